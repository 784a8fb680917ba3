package io.inferstream.runtime.bench;

import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.sampling.SamplingParams;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;

/**
 * A benchmark workload: {@code requests} random prompts of {@code promptLength} tokens, each generating
 * exactly {@code outputLength} tokens greedily (no stop tokens, so every request does the same work),
 * fed to an engine in one of the {@link BenchMode}s with {@code concurrency} requests in flight.
 */
public final class SyntheticWorkload {

    private final int requests;
    private final int promptLength;
    private final int outputLength;
    private final int concurrency;
    private final List<int[]> prompts = new ArrayList<>();

    public SyntheticWorkload(int requests, int promptLength, int outputLength, int concurrency, int vocabSize, long seed) {
        if (requests < 1 || promptLength < 1 || outputLength < 1 || concurrency < 1) {
            throw new IllegalArgumentException("requests, prompt length, output length and concurrency must be ≥ 1, got "
                    + requests + ", " + promptLength + ", " + outputLength + ", " + concurrency);
        }
        this.requests = requests;
        this.promptLength = promptLength;
        this.outputLength = outputLength;
        this.concurrency = concurrency;
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int r = 0; r < requests; r++) {
            int[] p = new int[promptLength];
            for (int i = 0; i < promptLength; i++) {
                p[i] = 3 + rnd.nextInt(vocabSize - 3); // past the usual unk/bos/eos ids
            }
            prompts.add(p);
        }
    }

    /** Runs the whole workload in {@code mode}; {@code progress} gets one line per tenth of the requests. */
    public BenchResult run(Engine engine, BenchMode mode, Consumer<String> progress) {
        List<Completion> done = new ArrayList<>();
        io.inferstream.runtime.engine.EngineMetrics before = engine.metrics(); // the engine is idle between modes
        long start = System.nanoTime();
        int width = mode == BenchMode.ONE_AT_A_TIME ? 1 : concurrency;
        int step = Math.max(1, requests / 10);
        if (mode == BenchMode.CONTINUOUS) {
            Semaphore slots = new Semaphore(width);
            List<CompletableFuture<Completion>> futures = new ArrayList<>();
            for (int r = 0; r < requests; r++) {
                slots.acquireUninterruptibly();
                CompletableFuture<Completion> f = engine.submit(request(mode, r));
                f.whenComplete((c, e) -> slots.release());
                futures.add(f);
            }
            for (int r = 0; r < requests; r++) {
                done.add(check(futures.get(r).join()));
                report(progress, mode, done.size(), step, start);
            }
        } else {
            for (int first = 0; first < requests; first += width) {
                List<CompletableFuture<Completion>> batch = new ArrayList<>();
                for (int r = first; r < Math.min(requests, first + width); r++) {
                    batch.add(engine.submit(request(mode, r)));
                }
                for (CompletableFuture<Completion> f : batch) {
                    done.add(check(f.join()));
                    report(progress, mode, done.size(), step, start);
                }
            }
        }
        double wall = (System.nanoTime() - start) / 1e9;
        double[] ttft = done.stream().mapToDouble(Completion::firstTokenMillis).toArray();
        double[] tpot = done.stream().mapToDouble(Completion::perTokenMillis).toArray();
        double meanBatch = done.stream().mapToDouble(Completion::meanBatchSize).average().orElse(0);
        long out = done.stream().mapToLong(Completion::generatedTokens).sum();
        long in = done.stream().mapToLong(Completion::promptTokens).sum();
        io.inferstream.runtime.engine.EngineMetrics after = engine.metrics(); // published before the last future completed
        long steps = after.steps() - (before == null ? 0 : before.steps());
        double stepS = after.stepSeconds() - (before == null ? 0 : before.stepSeconds());
        double forwardS = after.forwardSeconds() - (before == null ? 0 : before.forwardSeconds());
        return new BenchResult(mode, done.size(), in, out, wall,
                Percentiles.of(ttft, 50, 95, 99), Percentiles.of(tpot, 50, 95, 99), meanBatch, steps,
                steps == 0 ? 0 : forwardS * 1e3 / steps, steps == 0 ? 0 : (stepS - forwardS) * 1e3 / steps);
    }

    private Request request(BenchMode mode, int r) {
        return Request.builder(prompts.get(r))
                .id(mode.label + "-" + r)
                .params(SamplingParams.greedy(outputLength))
                .build();
    }

    private static Completion check(Completion c) {
        if (c.finishReason() != FinishReason.LENGTH) {
            throw new IllegalStateException("benchmark request " + c.requestId() + " finished with " + c.finishReason()
                    + " " + c.message());
        }
        return c;
    }

    private void report(Consumer<String> progress, BenchMode mode, int done, int step, long start) {
        if (done % step == 0 || done == requests) {
            double s = (System.nanoTime() - start) / 1e9;
            progress.accept(String.format("  %-14s %4d/%d requests  %7.1f s", mode.label, done, requests, s));
        }
    }

    /** The {@code r}-th prompt. */
    public int[] prompt(int r) {
        return prompts.get(r).clone();
    }

    public int requests() {
        return requests;
    }

    public int promptLength() {
        return promptLength;
    }

    public int outputLength() {
        return outputLength;
    }

    public int concurrency() {
        return concurrency;
    }
}

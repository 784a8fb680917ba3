package io.inferstream.runtime.cli;

import io.inferstream.runtime.bench.BenchMode;
import io.inferstream.runtime.bench.BenchReport;
import io.inferstream.runtime.bench.BenchResult;
import io.inferstream.runtime.bench.ComputeCeiling;
import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.ParallelRun;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.bench.SyntheticWorkload;
import io.inferstream.runtime.bench.WorkloadFlops;
import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFormatException;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.tensor.FmaPeak;
import io.inferstream.runtime.tensor.WorkerPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code inferstream bench}: measures the engine on a synthetic workload, feeding it one request at a
 * time, in static batches and with continuous batching in the same run, and writes a table, a CSV and
 * a PNG chart. {@code --parallel N} (and {@code --single}, N = 1) instead measures N sequences run together: their
 * aggregate prompt and decode speed per weight type ({@link ParallelRun}).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark the engine: one-at-a-time vs static batches vs continuous batching.")
public final class BenchCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "PATH|hf://...", description = "GGUF model file or Hugging Face model folder, local"
            + " or as hf://owner/repo/file.gguf or hf://owner/repo (downloaded once into the cache)")
    String modelSpec;

    @Mixin
    HubCliOptions hub;

    /** --model resolved to a local file or folder. */
    private Path model;

    @Option(names = "--random-model", description = "write a random-weights model of this real shape: smollm2-135m, llama-3.2-1b, qwen3-0.6b, gemma3-1b, granite-moe-1b, phi3.5-mini, tiny")
    String randomModel;

    @Option(names = "--type", split = ",", defaultValue = "q8_0",
            description = "weight type(s) of --random-model: q8_0, q4_0, q4_k, q5_k, q6_k, q3_k, q2_k, iq4_xs, iq4_nl, f16, bf16, f32 (K-quants and IQ4_XS need dims that are multiples of 256; several, comma-separated, with --single)")
    List<String> types;

    @Option(names = "--requests", defaultValue = "64", description = "requests in the workload (default: ${DEFAULT-VALUE})")
    int requests;

    @Option(names = "--prompt-length", defaultValue = "128", description = "prompt tokens per request (default: ${DEFAULT-VALUE})")
    int promptLength;

    @Option(names = "--output-length", defaultValue = "64", description = "generated tokens per request (default: ${DEFAULT-VALUE})")
    int outputLength;

    @Option(names = "--concurrency", defaultValue = "32", description = "requests in flight (static batch size; default: ${DEFAULT-VALUE})")
    int concurrency;

    @Option(names = "--modes", split = ",", defaultValue = "one-at-a-time,static-batch,continuous",
            description = "modes to run, comma-separated (default: ${DEFAULT-VALUE})")
    List<String> modes;

    @Mixin
    EngineCliOptions engineOptions = new EngineCliOptions();

    @Mixin
    DeviceCliOption deviceOption = new DeviceCliOption();

    @Option(names = "--out", defaultValue = "bench-out", description = "folder for bench.csv and bench.png")
    Path out;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the random prompts and weights (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--single", description = "single-sequence prompt tok/s and decode tok/s for each --type (--parallel 1)")
    boolean single;

    @Option(names = "--parallel", paramLabel = "N", split = ",",
            description = "N sequences submitted together (several N, comma-separated): aggregate prompt tok/s and decode tok/s"
                    + " for each --type, as llama-batched-bench's PP and TG for -npl N")
    List<Integer> parallel;

    private final PrintStream console = System.out;

    /** Runs the command alone (the {@code inferstream} top-level command registers it as a subcommand). */
    public static void main(String[] args) {
        System.exit(new picocli.CommandLine(new BenchCommand()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        try {
            return run();
        } catch (IllegalArgumentException | IllegalStateException | IOException | UncheckedIOException
                | GgufFormatException e) {
            // bad options, a model file or download that is not there or is not a GGUF file, a --device that is not there, a model that does not fit
            // it: one line, no stack trace
            System.err.println("bench: " + e.getMessage());
            return 2;
        }
    }

    private Integer run() throws Exception {
        if ((modelSpec == null) == (randomModel == null)) {
            throw new IllegalArgumentException("give exactly one of --model PATH or --random-model SHAPE");
        }
        EngineConfig config = engineOptions.config()
                .withPrefixCaching(false); // random prompts share nothing; keep the measurement pure
        deviceOption.option(); // bad device or GPU options fail here, before a random model is written
        deviceOption.cudaOptions(config.maxBatchedTokens());
        if (modelSpec != null) {
            model = hub.resolver().resolve(modelSpec);
        }
        Files.createDirectories(out);
        if (single && parallel == null) {
            parallel = List.of(1);
        }
        return parallel != null ? runParallel(config) : runModes(config);
    }

    private Path modelFile(String type) {
        if (model != null) {
            return model;
        }
        ModelShape shape = ModelShape.byName(randomModel);
        GgmlType t = GgmlType.valueOf(type.toUpperCase(Locale.ROOT));
        console.println("random " + shape.name() + " " + t + " weights: writing/reusing cache file ...");
        Path f = RandomModelWriter.cached(shape, t, seed);
        console.println("  " + f);
        return f;
    }

    private String modelLabel(String type) {
        return model != null ? model.getFileName().toString() : randomModel + " (random weights, " + type + ")";
    }

    private int runModes(EngineConfig config) throws Exception {
        String type = types.get(0);
        List<BenchResult> results = new ArrayList<>();
        try (Checkpoint checkpoint = Checkpoint.open(modelFile(type));
             LanguageModel lm = deviceOption.load(checkpoint, console, config.maxBatchedTokens())) {
            SyntheticWorkload workload = new SyntheticWorkload(requests, promptLength, outputLength, concurrency,
                    lm.config().vocabSize(), seed);
            String title = String.format(Locale.ROOT, "%s: %d requests, prompt %d, output %d, concurrency %d, %s",
                    modelLabel(type), requests, promptLength, outputLength, concurrency, where(lm));
            console.println(title);
            double peak = 0;
            try (Engine engine = new Engine(lm, null, config)) {
                warmUp(engine);
                if (!lm.logitsOnDevice()) {
                    peak = measurePeak("before the modes");
                }
                for (String m : modes) {
                    BenchMode mode = mode(m);
                    console.println("running " + mode.label + " ...");
                    BenchResult r = workload.run(engine, mode, console::println);
                    console.printf(Locale.ROOT, "  %s: %.1f output tok/s in %.1f s%n", mode.label, r.outputTokensPerSecond(), r.wallSeconds());
                    results.add(r);
                }
            }
            ComputeCeiling ceiling = null;
            if (!lm.logitsOnDevice()) {
                // The CPU's ceiling, so the modes' ratios can be read against what it allows. Measured twice and the
                // higher kept: right after the warm-up the JIT still compiles on one core (seen: 123 vs 162 GFLOP/s
                // on 2 cores), and the higher peak gives the more generous, so the safer, "at most" bound.
                peak = Math.max(peak, measurePeak("after the modes"));
                ceiling = new ComputeCeiling(WorkloadFlops.of(lm.config(), requests, promptLength, outputLength), peak,
                        WorkerPool.threads());
            }
            BenchReport report = new BenchReport(title, results, ceiling);
            console.println();
            console.print(report.table());
            report.writeCsv(out.resolve("bench.csv"));
            console.println("wrote " + out.resolve("bench.csv"));
            try {
                report.writePng(out.resolve("bench.png"));
                console.println("wrote " + out.resolve("bench.png"));
            } catch (RuntimeException | Error e) { // e.g. a headless machine without fonts: the CSV still stands
                console.println("could not draw " + out.resolve("bench.png") + ": " + e);
            }
        }
        return 0;
    }

    /** The FP32 FMA throughput of the kernel threads now ({@link FmaPeak}), printed. // FLOP/s */
    private double measurePeak(String when) {
        console.println("measuring the FMA peak of " + WorkerPool.threads() + " kernel threads " + when + " ...");
        double peak = FmaPeak.measure(10);
        console.printf(Locale.ROOT, "  %.1f GFLOP/s%n", peak / 1e9);
        return peak;
    }

    /** Where the bench ran, for the title: the GPU, or the CPU cores. */
    private static String where(LanguageModel lm) {
        return lm.logitsOnDevice() ? lm.toString() : Runtime.getRuntime().availableProcessors() + " cores";
    }

    /** A few short requests alone and together, so the JIT has compiled the batched paths before timing. */
    private void warmUp(Engine engine) {
        console.println("warming up ...");
        int n = Math.min(concurrency, 8);
        List<java.util.concurrent.CompletableFuture<Completion>> fs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] p = new int[Math.min(promptLength, 32)];
            java.util.Arrays.fill(p, 3 + i);
            fs.add(engine.submit(Request.builder(p).id("warmup-" + i).params(SamplingParams.greedy(8)).build()));
        }
        fs.forEach(java.util.concurrent.CompletableFuture::join);
    }

    private static BenchMode mode(String label) {
        for (BenchMode m : BenchMode.values()) {
            if (m.label.equalsIgnoreCase(label) || m.name().equalsIgnoreCase(label)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown mode '" + label + "' (expected one-at-a-time, static-batch, continuous)");
    }

    /**
     * N sequences that do not fit in the KV cache together do not decode together: some wait for blocks or are preempted,
     * and the row then measures that. Said before the row, with the remedy (a Qwen3-0.6B token takes 229 KB at F32, so
     * the CPU's default 256 MiB holds 1,168 positions).
     */
    private void warnWhenTheCacheCannotHoldThemAll(Engine engine, int n) {
        var kv = engine.kvCacheSizing();
        long perSequence = (promptLength + outputLength + kv.blockSize() - 1L) / kv.blockSize() * kv.blockSize();
        if (n * perSequence > kv.tokens()) {
            console.printf(Locale.ROOT, "note: %d sequences of %d + %d positions need %d KV positions together; the cache holds "
                    + "%d (%s), so some wait or are preempted and the next row measures that; raise --kv-cache-memory%n",
                    n, promptLength, outputLength, n * perSequence, kv.tokens(), kv.precision());
        }
    }

    private int runParallel(EngineConfig config) throws Exception {
        for (int n : parallel) {
            if (n < 1 || n > config.maxSequences()) {
                throw new IllegalArgumentException("--parallel " + n + ": expected 1 to --max-sequences (" + config.maxSequences() + ")");
            }
        }
        List<String> lines = new ArrayList<>();
        boolean speculative = config.speculation().enabled();
        lines.add("type,sequences,prompt_tokens,output_tokens,prompt_tok_s,decode_tok_s"
                + (speculative ? ",draft_tokens,accepted_draft_tokens" : ""));
        console.printf(Locale.ROOT, "| %-40s | %9s | %12s | %12s |%s%n", "model", "sequences", "prompt tok/s", "decode tok/s",
                speculative ? " guesses kept |" : "");
        for (String type : types) {
            try (Checkpoint checkpoint = Checkpoint.open(modelFile(type)); LanguageModel lm = deviceOption.load(checkpoint, console);
                 Engine engine = new Engine(lm, null, config)) {
                for (int n : parallel) {
                    SyntheticWorkload workload = new SyntheticWorkload(n, promptLength, outputLength, n, lm.config().vocabSize(), seed);
                    List<int[]> prompts = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        prompts.add(workload.prompt(i));
                    }
                    warnWhenTheCacheCannotHoldThemAll(engine, n);
                    double bestPrompt = 0;
                    double bestDecode = 0;
                    ParallelRun last = null; // greedy: every run guesses and keeps the same tokens
                    for (int run = 0; run < 3; run++) { // best of three: the first also warms up the JIT
                        last = ParallelRun.measure(engine, prompts, outputLength, type + "-" + n + "-" + run);
                        bestPrompt = Math.max(bestPrompt, last.promptTokensPerSecond());
                        bestDecode = Math.max(bestDecode, last.decodeTokensPerSecond());
                    }
                    String kept = speculative ? String.format(Locale.ROOT, " %5d/%-6d |", last.acceptedDraftTokens(), last.draftTokens()) : "";
                    console.printf(Locale.ROOT, "| %-40s | %9d | %12.1f | %12.1f |%s%n", modelLabel(type), n, bestPrompt, bestDecode, kept);
                    lines.add(String.format(Locale.ROOT, "%s,%d,%d,%d,%.2f,%.2f", type, n, promptLength, outputLength,
                            bestPrompt, bestDecode) + (speculative ? "," + last.draftTokens() + "," + last.acceptedDraftTokens() : ""));
                }
            }
        }
        Files.write(out.resolve("parallel.csv"), lines);
        console.println("wrote " + out.resolve("parallel.csv"));
        return 0;
    }
}

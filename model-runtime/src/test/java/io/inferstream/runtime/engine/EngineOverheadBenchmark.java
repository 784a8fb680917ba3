package io.inferstream.runtime.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import io.inferstream.runtime.bench.BenchMode;
import io.inferstream.runtime.bench.BenchResult;
import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.bench.SyntheticWorkload;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LlamaModel;

/**
 * How long the engine works on each step outside the model's forward (scheduling, batch building, sampling,
 * bookkeeping): continuous batching of 4 x c requests (prompt 16, output 128) at concurrency c on the tiny random
 * model, whose forward is cheap, sampling from logit candidates (as the GPU path does) and from full logits. Three runs
 * per way on one engine (the first warms the JIT); the engine's own counters (EngineMetrics) split each step. Not a
 * test: run it as a main.
 *
 * <pre>
 * mvn -q -pl model-runtime test-compile
 * java --add-modules jdk.incubator.vector -cp model-runtime/target/classes:model-runtime/target/test-classes:$(cat cp.txt) \
 *     io.inferstream.runtime.engine.EngineOverheadBenchmark [concurrency, default 64]
 * </pre>
 * (cp.txt from {@code mvn -q -pl model-runtime dependency:build-classpath -Dmdep.outputFile=cp.txt}.)
 */
public final class EngineOverheadBenchmark {

    private EngineOverheadBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int c = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        Path dir = Files.createTempDirectory("engine-overhead");
        Path file = RandomModelWriter.write(ModelShape.TINY, GgmlType.Q8_0, 1, dir.resolve("tiny.gguf"));
        try (GgufFile gguf = GgufFile.open(file)) {
            LanguageModel model = LlamaModel.load(gguf);
            for (boolean candidates : new boolean[] {true, false}) {
                EngineConfig config = EngineConfig.defaults().withLogitCandidates(candidates);
                try (Engine engine = new Engine(model, null, config)) {
                    SyntheticWorkload w = new SyntheticWorkload(4 * c, 16, 128, c, model.config().vocabSize(), 7);
                    for (int run = 0; run < 3; run++) {
                        BenchResult r = w.run(engine, BenchMode.CONTINUOUS, line -> { });
                        System.out.printf(Locale.ROOT, "concurrency %d, %s, run %d: %d steps, mean batch %.1f, forward %.3f ms, "
                                        + "engine %.3f ms per step%n", c, candidates ? "candidates" : "full logits", run + 1,
                                r.steps(), r.meanBatchSize(), r.forwardMillisPerStep(), r.engineMillisPerStep());
                    }
                }
            }
        } finally {
            Files.deleteIfExists(dir.resolve("tiny.gguf"));
            Files.deleteIfExists(dir);
        }
    }
}

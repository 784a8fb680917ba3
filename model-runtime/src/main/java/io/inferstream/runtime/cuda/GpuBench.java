package io.inferstream.runtime.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import io.inferstream.runtime.backend.BackendChoice;
import io.inferstream.runtime.backend.DeviceOption;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LogitCandidates;
import io.inferstream.runtime.model.TokenBatch;
import jcuda.driver.JCudaDriver;

/**
 * Batched-decode benchmark of a model on a device: for each concurrency c, c sequences are prefilled with
 * {@code --prompt} tokens, then decoded together one token per step. Reports prefill throughput, the decode
 * step time with full logits copied to the host (the engine's path for requests that need them), with on-device
 * greedy argmax, and with each row's top-k candidates copied back (the engine's path for greedy / top-k / top-p /
 * min-p requests, {@link CudaLlamaModel#forwardCandidates}),
 * and the weight-read bandwidth of a decode step against the HBM roofline (all weights read once per step).
 *
 * <pre>
 * GpuBench --model m.gguf | --random-llama-1b /tmp/m.gguf  [--device cuda:0] [--concurrency 1,16,64]
 *          [--prompt 128] [--steps 32] [--hbm-gbps 4800] [--long-prompt 4096 (0: none)] [--out results.md]
 * </pre>
 */
public final class GpuBench {

    private GpuBench() {
    }

    public static void main(String[] args) throws IOException {
        Path model = null;
        Path random = null;
        DeviceOption device = DeviceOption.AUTO;
        int[] concurrency = {1, 16, 64};
        int prompt = 128;
        int steps = 32;
        double hbmGbps = 4800;
        Path out = null;
        int[] shape = null;
        int longPrompt = 4096;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--model" -> model = Path.of(v);
                case "--random-llama-1b" -> random = Path.of(v);
                case "--device" -> device = DeviceOption.parse(v);
                case "--concurrency" -> concurrency = Arrays.stream(v.split(",")).mapToInt(Integer::parseInt).toArray();
                case "--prompt" -> prompt = Integer.parseInt(v);
                case "--steps" -> steps = Integer.parseInt(v);
                case "--hbm-gbps" -> hbmGbps = Double.parseDouble(v);
                case "--out" -> out = Path.of(v);
                case "--random-shape" -> shape = Arrays.stream(v.split(",")).mapToInt(Integer::parseInt).toArray();
                case "--long-prompt" -> longPrompt = Integer.parseInt(v);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
            i++;
        }
        if (random != null) {
            long t0 = System.nanoTime();
            if (shape == null) {
                RandomLlamaWriter.writeLlama32_1B(random);
            } else {
                // --random-shape dim,hidden,layers,heads,kvHeads,vocab (smaller models to check the harness)
                RandomLlamaWriter.write(random, shape[0], shape[1], shape[2], shape[3], shape[4], shape[5]);
            }
            System.out.printf(Locale.ROOT, "wrote random BF16 llama model %s (%.1f GB) in %.1f s%n", random,
                    Files.size(random) / 1e9, (System.nanoTime() - t0) / 1e9);
            model = random;
        }
        if (model == null) {
            throw new IllegalArgumentException("--model or --random-llama-1b is required");
        }
        BackendChoice choice = BackendChoice.resolve(device, device.kind() == DeviceOption.Kind.CPU
                ? new CudaDevice.Probe(false, 0, "not probed") : CudaDevice.probe());
        System.out.println(choice.reason());
        List<String> lines = new ArrayList<>();
        try (Checkpoint checkpoint = Checkpoint.open(model)) {
            CudaDevice dev = choice.cuda() ? CudaDevice.open(choice.ordinal()) : null;
            long t0 = System.nanoTime();
            LanguageModel m = dev != null
                    ? CudaLlamaModel.load(checkpoint, dev, CudaLlamaModel.Options.defaults())
                    : checkpoint.loadModel();
            String where = dev != null ? dev.toString() : "CPU";
            System.out.printf(Locale.ROOT, "loaded %s in %.1f s: %s%n", model.getFileName(), (System.nanoTime() - t0) / 1e9, m);
            long readPerStep = m instanceof CudaLlamaModel c ? c.bytesReadPerDecodeStep() : 0;
            if (readPerStep > 0) {
                System.out.printf(Locale.ROOT, "roofline: %.3f GB of weights read per decode step / %.0f GB/s = %.3f ms per step%n",
                        readPerStep / 1e9, hbmGbps, readPerStep / 1e9 / hbmGbps * 1e3);
            }
            if (dev != null) {
                System.out.println(launchOverhead(dev));
            }
            String products = null;
            String layouts = "";
            if (m instanceof CudaLlamaModel c) {
                System.out.println("device memory: " + c.memoryPlan().summary());
                c.kernelChoices().forEach((what, decided) -> System.out.println(what + ": " + decided));
                // each product of a step alone (chosen kernels, CUDA graph replays): where the step's weight reads go
                products = c.productBenchmark(new int[] {1, 16, 64}, 20);
                System.out.println("products of one layer (layer 0) and the output head, chosen kernels, 20 CUDA graph replays each:");
                System.out.print(products);
                layouts = layoutTables(c);
                System.out.print(layouts);
            }
            lines.add("Device: " + where + "; model: " + model.getFileName() + " (" + m.config().architecture() + ", dim "
                    + m.config().dim() + ", " + m.config().nLayers() + " layers, " + m.config().nHeads() + "/" + m.config().nKvHeads()
                    + " heads, FFN " + m.config().hiddenDim() + ", vocab " + m.config().vocabSize() + "); prompt " + prompt
                    + " tokens, " + steps + " decode steps (after 3 untimed ones; every column decodes the same positions from "
                    + "the end of the prompt); KV F16, block 16.");
            lines.add("");
            if (m instanceof CudaLlamaModel c) {
                c.kernelChoices().forEach((what, decided) -> {
                    lines.add("Chosen at load, " + what + ": " + decided + ".");
                    lines.add("");
                });
                lines.add("Products of one layer (layer 0) and the output head, alone, with the chosen kernels (20 CUDA graph "
                        + "replays each; weight GB/s = weight bytes / time):");
                lines.add("");
                lines.add(products.stripTrailing());
                lines.add("");
                if (!layouts.isEmpty()) {
                    lines.add(layouts.stripTrailing());
                    lines.add("");
                }
            }
            lines.add("Headline: the CUDA-graph step (the default for greedy steps) with the default products (skinny split-K "
                    + "tensor-core GEMM for 9..64 tokens); weight GB/s and % of roofline are of that column.");
            lines.add("");
            lines.add("| concurrency | prefill tok/s | prefill tok/s (products of > 64 tokens the way not chosen at load) | decode step ms (logits to host) | decode tok/s | step ms (device argmax, eager) "
                    + "| tok/s (eager) | kernel launches per step | **step ms (argmax, CUDA graph)** | **tok/s (graph)** | step ms (graph, tiled GEMM) "
                    + "| tok/s (graph, tiled) | step ms (graph, staged skinny forced, matmul_stream off) | step ms (graph, the split-K not chosen at load) "
                    + "| step ms (graph, the attention and norm kernels not chosen at load) "
                    + "| step ms (graph, split attention loading rows a round ahead the way not chosen at load) "
                    + "| step ms (graph, 16-bit activations the way not chosen at load) "
                    + "| step ms (graph, Q/K/V reduction + RoPE the way not chosen at load) "
                    + "| step ms (graph, products reducing their own sums the way not chosen at load) "
                    + "| step ms (graph, L2 prefetch the way not chosen at load: 16 MiB if none was) "
                    + "| step ms (graph, split-K reduction in the norm the way not chosen at load) "
                    + "| step ms (graph, packed weights the way not chosen at load) "
                    + "| step ms (graph, 32-row warps on packed weights the way not chosen at load) "
                    + "| step ms (graph, warpgroup MMAs (sm_90a) the way not chosen at load) "
                    + "| step ms (graph, tiled decode attention the way not chosen at load) "
                    + "| step ms (graph, programmatic dependent launch (sm_90) the way not chosen at load) "
                    + "| weight GB/s (graph) | % of HBM roofline (graph) "
                    + "| step ms (top-64 candidates to host, graph) | step ms (top-256 candidates to host, graph) |");
            lines.add("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for (int c : concurrency) {
                String row = run(m, c, prompt, steps, readPerStep, hbmGbps);
                System.out.println(row);
                lines.add(row);
            }
            if (m instanceof CudaLlamaModel g && longPrompt > 0) {
                lines.add("");
                lines.add(longPrompt(g, longPrompt));
            }
            m.close();
            if (dev != null) {
                dev.close();
            }
        }
        String table = String.join("\n", lines) + "\n";
        System.out.print(table);
        if (out != null) {
            Files.writeString(out, table);
        }
    }

    private static String run(LanguageModel m, int c, int prompt, int steps, long readPerStep, double hbmGbps) {
        int bs = 16;
        int warmup = 3;
        // every timed run starts again from the end of the prompt (Decoder.rewind), so all columns decode the same
        // positions: a later column no longer pays for attention over a longer context than the headline's
        int positions = prompt + steps + warmup + 8;
        int blocksPerSeq = (positions + bs - 1) / bs;
        KvStore kv = m.newKvStore(c * blocksPerSeq, bs, KvStore.Precision.F16);
        int[][] tables = new int[c][blocksPerSeq];
        for (int s = 0; s < c; s++) {
            for (int b = 0; b < blocksPerSeq; b++) {
                tables[s][b] = s * blocksPerSeq + b;
            }
        }
        int vocab = m.config().vocabSize();
        int[] next = new int[c];
        // Prefill: every sequence's prompt, up to 512 tokens per step.
        double prefillS = prefill(m, kv, tables, c, prompt, next);
        // The same prefill with the products of more than 64 tokens the way the model did not choose (the same
        // tokens into the same KV slots; the decode below starts from the first run's next tokens)
        double otherPrefillS = Double.NaN;
        if (m instanceof CudaLlamaModel g && g.streamingSkinny()) {
            boolean sliced = g.slicedPrefill();
            otherPrefillS = otherWay("products of more than 64 tokens", () -> g.useSlicedPrefill(!sliced),
                    () -> g.useSlicedPrefill(sliced), () -> prefill(m, kv, tables, c, prompt, new int[c]));
        }
        Decoder d = new Decoder(kv, tables, next, prompt);
        // Decode with logits to the host.
        double hostMs = 0;
        for (int i = 0; i < warmup + steps; i++) {
            long s = System.nanoTime();
            float[] logits = m.forward(decodeBatch(d.next, d.position, tables), kv);
            for (int j = 0; j < c; j++) {
                d.next[j] = argmax(logits, j, vocab);
            }
            if (i >= warmup) {
                hostMs += (System.nanoTime() - s) / 1e6;
            }
            d.position++;
        }
        hostMs /= steps;
        double deviceMs = Double.NaN;
        double launchesPerStep = Double.NaN; // kernels of one step (a graph replays as many)
        double graphMs = Double.NaN;
        double tiledMs = Double.NaN;
        double stagedMs = Double.NaN;
        double otherSplitMs = Double.NaN;
        double otherAttentionMs = Double.NaN;
        double otherPrefetchRowsMs = Double.NaN;
        double otherHalvesMs = Double.NaN;
        double otherRopeMs = Double.NaN;
        double otherReductionMs = Double.NaN;
        double otherWgmmaMs = Double.NaN;
        double otherPrefetchMs = Double.NaN;
        double otherNormMs = Double.NaN;
        double otherPackedMs = Double.NaN;
        double otherTallMs = Double.NaN;
        double otherTiledMs = Double.NaN;
        double otherProgrammaticMs = Double.NaN;
        double top64Ms = Double.NaN;
        double top256Ms = Double.NaN;
        if (m instanceof CudaLlamaModel g) {
            boolean skinnyDefault = g.skinnyDecode();
            boolean stagedDefault = g.stagedSkinny();
            boolean pipelinedDefault = g.pipelinedSkinny();
            boolean streamingDefault = g.streamingSkinny();
            // Eager launches, the default products.
            g.useCudaGraphs(false);
            long launchedBefore = g.device().kernels().launched();
            deviceMs = d.greedy(g, warmup, steps);
            launchesPerStep = (g.device().kernels().launched() - launchedBefore) / (double) (warmup + steps);
            // The default: CUDA graphs (one launch per step), default products. The headline column.
            g.useCudaGraphs(true);
            graphMs = d.greedy(g, warmup, steps);
            // The engine's sampled decode: the step (graph) plus topk_rows, k pairs per row back; next = the best.
            for (int kk : new int[] {64, 256}) {
                d.rewind();
                double ms = 0;
                for (int i = 0; i < warmup + steps; i++) {
                    long s = System.nanoTime();
                    LogitCandidates cand = g.forwardCandidates(decodeBatch(d.next, d.position, tables), kv, kk);
                    for (int j = 0; j < c; j++) {
                        d.next[j] = cand.ids()[j * cand.k()];
                    }
                    if (i >= warmup) {
                        ms += (System.nanoTime() - s) / 1e6;
                    }
                    d.position++;
                }
                if (kk == 64) {
                    top64Ms = ms / steps;
                } else {
                    top256Ms = ms / steps;
                }
            }
            // For comparison: graphs with the tiled / WMMA products instead of the skinny split-K one.
            g.useSkinnyDecode(false);
            tiledMs = d.greedy(g, warmup, steps);
            g.useSkinnyDecode(skinnyDefault);
            java.util.function.DoubleSupplier timed = () -> d.greedy(g, warmup, steps);
            // The skinny product with activations staged through shared memory, forced on (the model picks it at
            // load only where it is bitwise equal and faster on one FFN product).
            if (skinnyDefault) {
                stagedMs = otherWay("staged skinny product", () -> {
                    g.useStagedSkinny(true);
                    g.usePipelinedSkinny(false);
                    g.useStreamingSkinny(false);
                }, () -> {
                    g.useStagedSkinny(stagedDefault);
                    g.usePipelinedSkinny(pipelinedDefault);
                    g.useStreamingSkinny(streamingDefault);
                }, timed);
                // The other split-K policy (deep where the model kept the default, and vice versa), forced.
                boolean deepDefault = g.deepSplit();
                otherSplitMs = otherWay("split-K", () -> g.useDeepSplit(!deepDefault), () -> g.useDeepSplit(deepDefault), timed);
            }
            // The other attention (split-context vs per-head) and norm kernels, forced, where the model has both.
            boolean splitDefault = g.splitAttention();
            boolean normDefault = g.vectorNorm();
            if (g.splitAttentionAvailable()) {
                otherAttentionMs = otherWay("attention and norm kernels", () -> {
                    g.useSplitAttention(!splitDefault);
                    if (ForwardPass.vectorNormFits(g.config().dim())) {
                        g.useVectorNorm(!normDefault);
                    }
                }, () -> {
                    g.useSplitAttention(splitDefault);
                    g.useVectorNorm(normDefault);
                }, timed);
            }
            // The split attention's row loads the other way (a round ahead or not), where the step uses it.
            if (g.splitAttentionAvailable() && g.splitAttention()) {
                boolean rowsDefault = g.attentionPrefetch();
                otherPrefetchRowsMs = otherWay("split attention loading rows a round ahead",
                        () -> g.useAttentionPrefetch(!rowsDefault), () -> g.useAttentionPrefetch(rowsDefault), timed);
            }
            // The 16-bit activations of the streaming products the other way: written by the norms and the SwiGLU
            // reduction, or converted by to_half_padded before each product (a no-op where neither applies).
            boolean halvesDefault = g.fusedHalves();
            otherHalvesMs = otherWay("16-bit activations", () -> g.useFusedHalves(!halvesDefault),
                    () -> g.useFusedHalves(halvesDefault), timed);
            // The Q/K/V reduction, biases, RoPE and KV write the other way (one launch, or reduction + rope_kv_store).
            boolean ropeDefault = g.fusedRope();
            otherRopeMs = otherWay("Q/K/V reduction + RoPE", () -> g.useFusedRope(!ropeDefault), () -> g.useFusedRope(ropeDefault),
                    timed);
            // The grouped products' reductions the other way: in the products (where the scratch allows), or by kernels.
            boolean reductionDefault = g.productReduction();
            if (g.productReductionAvailable()) {
                otherReductionMs = otherWay("products reducing their own sums",
                        () -> g.useProductReduction(!reductionDefault), () -> g.useProductReduction(reductionDefault), timed);
            }
            // The L2 prefetch the other way: none where the model chose some, 16 MiB per layer where it chose none.
            long prefetchDefault = g.l2Prefetch();
            otherPrefetchMs = otherWay("L2 prefetch", () -> g.useL2Prefetch(prefetchDefault > 0 ? 0 : 16L << 20),
                    () -> g.useL2Prefetch(prefetchDefault), timed);
            // The Wo and down reductions the other way: in the next norm, or by splitk_reduce.
            boolean normDefaultFused = g.fusedNorm();
            otherNormMs = otherWay("split-K reduction in the norm", () -> g.useFusedNorm(!normDefaultFused),
                    () -> g.useFusedNorm(normDefaultFused), timed);
            // The streaming products' weights the other way: packed copies (made here if the model chose row-major;
            // about the weights' size again, which must fit beside this run's KV pool) or row-major; then 32-row warps
            // the other way, on packed weights (packed for the run if the model chose row-major).
            if (g.streamingSkinny()) {
                boolean packedDefault = g.packedStream();
                boolean tallDefault = g.tallStream();
                boolean wgmmaChosen = g.wgmma(); // (turning the packed weights off turns the warpgroup MMAs off)
                otherPackedMs = otherWay("packed weights", () -> g.usePackedStream(!packedDefault), () -> {
                    g.usePackedStream(packedDefault);
                    g.useWgmma(wgmmaChosen);
                }, timed);
                otherTallMs = otherWay("32-row warps", () -> {
                    g.usePackedStream(true);
                    g.useTallStream(!tallDefault);
                }, () -> {
                    g.useTallStream(tallDefault);
                    g.usePackedStream(packedDefault);
                    g.useWgmma(wgmmaChosen);
                }, timed);
            }
            // The packed streaming products on the other tensor-core instruction (wgmma or mma.sync; each repacks the
            // weights in its order), on 9.x devices.
            if (g.streamingSkinny() && g.packedStream() && g.wgmmaAvailable()) { // (they read packed weights only)
                boolean wgmmaDefault = g.wgmma();
                otherWgmmaMs = otherWay("warpgroup MMAs", () -> g.useWgmma(!wgmmaDefault), () -> g.useWgmma(wgmmaDefault), timed);
            }
            // The decode steps' attention the other way: the tiled kernel (items of one token) or the decode kernel.
            if (g.tiledAttentionAvailable()) {
                boolean tiledDefault = g.tiledDecode();
                otherTiledMs = otherWay("tiled decode attention", () -> g.useTiledDecode(!tiledDefault),
                        () -> g.useTiledDecode(tiledDefault), timed);
            }
            // The kernels that wait for their predecessor launched the other way (programmatically or as usual), on 9.x.
            if (g.programmaticLaunchAvailable()) {
                boolean launchDefault = g.programmaticLaunch();
                otherProgrammaticMs = otherWay("programmatic launches", () -> g.useProgrammaticLaunch(!launchDefault),
                        () -> g.useProgrammaticLaunch(launchDefault), timed);
            }
            if (g.graphFailure() != null) {
                System.out.println(g.graphFailure());
                graphMs = Double.NaN;
                tiledMs = Double.NaN;
                stagedMs = Double.NaN;
                otherSplitMs = Double.NaN;
                otherAttentionMs = Double.NaN;
                otherPrefetchRowsMs = Double.NaN;
                otherHalvesMs = Double.NaN;
                otherRopeMs = Double.NaN;
                otherReductionMs = Double.NaN;
                otherPrefetchMs = Double.NaN;
                otherNormMs = Double.NaN;
                otherPackedMs = Double.NaN;
                otherTallMs = Double.NaN;
                otherWgmmaMs = Double.NaN;
                otherTiledMs = Double.NaN;
                otherProgrammaticMs = Double.NaN;
                top64Ms = Double.NaN;
                top256Ms = Double.NaN;
            }
            // Under Nsight Compute (deploy/gpu/check.sh, ncu --profile-from-start off): one eager greedy step and one
            // eager top-256 step at this concurrency are the only profiled range, so ncu times each kernel of a step.
            if (Integer.getInteger("inferstream.bench.ncuStep", -1) == c) {
                g.useCudaGraphs(false);
                g.device().synchronize();
                d.rewind();
                JCudaDriver.cuProfilerStart();
                d.next = g.forwardGreedy(decodeBatch(d.next, d.position, tables), kv);
                d.position++;
                LogitCandidates cand = g.forwardCandidates(decodeBatch(d.next, d.position, tables), kv, 256);
                d.next[0] = cand.ids()[0];
                d.position++;
                g.device().synchronize();
                JCudaDriver.cuProfilerStop();
                g.useCudaGraphs(true);
                System.out.println("profiled one eager decode step and one top-256 step at concurrency " + c + " for ncu");
            }
            // Where a decode step's time goes (eager, synchronizing after each part), default products.
            StepProfile profile = new StepProfile();
            g.profile(profile);
            d.rewind();
            for (int i = 0; i < 5; i++) {
                d.next = g.forwardGreedy(decodeBatch(d.next, d.position, tables), kv);
                d.position++;
            }
            g.profile(null);
            System.out.println("decode step at concurrency " + c + ", default products, part by part (5 steps):");
            System.out.print(profile.report(g.bytesPerPart()));
        }
        if (kv instanceof CudaKvStore ck) {
            ck.close();
        }
        // The headline step: the graph replay where it ran, else the fastest that did.
        double headline = !Double.isNaN(graphMs) ? graphMs : Double.isNaN(deviceMs) ? hostMs : Math.min(hostMs, deviceMs);
        double gbps = readPerStep > 0 ? readPerStep / 1e9 / (headline / 1e3) : Double.NaN;
        if (readPerStep > 0) { // one line per concurrency for deploy/gpu/check.sh's summary: issue 7's acceptance number
            double rooflineMs = readPerStep / 1e9 / hbmGbps * 1e3;
            System.out.println(String.format(Locale.ROOT, "roofline: concurrency %d: step %.3f ms = %.0f%% of the %.3f ms "
                    + "HBM roofline (%.3f GB of weights at %.0f GB/s); 50%% needs a step of %.3f ms or less; %s kernel "
                    + "launches per step", c, headline, 100 * rooflineMs / headline, rooflineMs, readPerStep / 1e9, hbmGbps,
                    2 * rooflineMs, num("%.0f", launchesPerStep)));
        }
        return String.format(Locale.ROOT, "| %d | %.0f | %s | %.2f | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", c,
                c * prompt / prefillS, num("%.0f", c * prompt / otherPrefillS), hostMs, c / (hostMs / 1e3), num("%.2f", deviceMs), num("%.0f", c / (deviceMs / 1e3)), num("%.0f", launchesPerStep),
                num("%.2f", graphMs), num("%.0f", c / (graphMs / 1e3)), num("%.2f", tiledMs), num("%.0f", c / (tiledMs / 1e3)), num("%.2f", stagedMs),
                num("%.2f", otherSplitMs), num("%.2f", otherAttentionMs), num("%.2f", otherPrefetchRowsMs),
                num("%.2f", otherHalvesMs), num("%.2f", otherRopeMs),
                num("%.2f", otherReductionMs), num("%.2f", otherPrefetchMs), num("%.2f", otherNormMs), num("%.2f", otherPackedMs), num("%.2f", otherTallMs),
                num("%.2f", otherWgmmaMs), num("%.2f", otherTiledMs), num("%.2f", otherProgrammaticMs),
                num("%.0f", gbps), num("%.0f%%", 100 * gbps / hbmGbps),
                num("%.2f", top64Ms), num("%.2f", top256Ms));
    }

    /**
     * One sequence's prompt of {@code tokens} tokens prefilled in 512-token steps, with the prefill steps' attention
     * tiled and not (the load-time choice restored after): a markdown table of prefill tok/s by context reached,
     * where the tiled kernel's shared key/value tiles matter (each step's attention reads the whole context so far).
     */
    private static String longPrompt(CudaLlamaModel g, int tokens) {
        int bs = 16;
        int chunk = 512;
        int blocks = (tokens + bs - 1) / bs;
        KvStore kv = g.newKvStore(blocks, bs, KvStore.Precision.F16);
        int[][] tables = new int[1][blocks];
        for (int b = 0; b < blocks; b++) {
            tables[0][b] = b;
        }
        int vocab = g.config().vocabSize();
        boolean tiledDefault = g.tiledAttention();
        StringBuilder table = new StringBuilder("Long prompt: one sequence of " + tokens + " tokens prefilled in " + chunk
                + "-token steps; prefill tok/s of the steps up to each context, with the prefill attention tiled "
                + "(attention_tiled) and with the decode kernel (chosen at load: " + (tiledDefault ? "tiled" : "decode kernel")
                + ").\n\n| context | tok/s (tiled attention) | tok/s (decode kernel) | ratio |\n|---:|---:|---:|---:|\n");
        double[][] seconds = new double[2][(tokens + chunk - 1) / chunk];
        try {
            for (int way = 0; way < 2; way++) {
                if (way == 0 && !g.tiledAttentionAvailable()) {
                    Arrays.fill(seconds[0], Double.NaN);
                    continue;
                }
                g.useTiledAttention(way == 0);
                for (int rep = 0; rep < 2; rep++) { // the first pass warms up (graphs are not used for prefill steps)
                    for (int s = 0, start = 0; start < tokens; s++, start += chunk) {
                        int n = Math.min(chunk, tokens - start);
                        int[] tok = new int[n];
                        int[] pos = new int[n];
                        for (int i = 0; i < n; i++) {
                            tok[i] = (int) ((7L * (start + i) + 3) % vocab);
                            pos[i] = start + i;
                        }
                        long t0 = System.nanoTime();
                        g.forward(new TokenBatch(tok, pos, new int[n], tables, new int[] {n - 1}), kv);
                        seconds[way][s] = (System.nanoTime() - t0) / 1e9;
                    }
                }
            }
        } catch (RuntimeException e) {
            return table + "(failed: " + e + ")\n";
        } finally {
            g.useTiledAttention(tiledDefault);
        }
        double[] sum = new double[2];
        for (int s = 0; s < seconds[0].length; s++) {
            sum[0] += seconds[0][s];
            sum[1] += seconds[1][s];
            int context = Math.min(tokens, (s + 1) * chunk);
            table.append(String.format(Locale.ROOT, "| %d | %s | %.0f | %s |%n", context, num("%.0f", context / sum[0]),
                    context / sum[1], num("%.2f", sum[1] / sum[0])));
        }
        System.out.print(table);
        return table.toString().stripTrailing();
    }

    /**
     * One "way not chosen" column: {@code change} the model, time it, and {@code restore} it whatever happens; a way that
     * fails (a kernel the driver refuses, memory for packed copies) prints why and gives NaN ("-" in the table) instead
     * of ending the run.
     */
    private static double otherWay(String what, Runnable change, Runnable restore, java.util.function.DoubleSupplier timed) {
        try {
            change.run();
            return timed.getAsDouble();
        } catch (RuntimeException e) {
            System.out.println(what + " the other way: " + e);
            return Double.NaN;
        } finally {
            restore.run();
        }
    }

    /**
     * Seconds to prefill every sequence's prompt, up to 512 tokens per step; next[s] gets each sequence's first
     * generated token (the argmax of its last prompt position).
     */
    private static double prefill(LanguageModel m, KvStore kv, int[][] tables, int c, int prompt, int[] next) {
        int vocab = m.config().vocabSize();
        long t0 = System.nanoTime();
        int chunk = Math.max(1, 512 / prompt);
        for (int s0 = 0; s0 < c; s0 += chunk) {
            int seqs = Math.min(chunk, c - s0);
            int n = seqs * prompt;
            int[] tokens = new int[n];
            int[] pos = new int[n];
            int[] seq = new int[n];
            int[] rows = new int[seqs];
            for (int j = 0; j < seqs; j++) {
                for (int p = 0; p < prompt; p++) {
                    int t = j * prompt + p;
                    tokens[t] = (int) ((31L * (s0 + j) + 7L * p + 1) % vocab);
                    pos[t] = p;
                    seq[t] = s0 + j;
                }
                rows[j] = j * prompt + prompt - 1;
            }
            float[] logits = m.forward(new TokenBatch(tokens, pos, seq, tables, rows), kv);
            for (int j = 0; j < seqs; j++) {
                next[s0 + j] = argmax(logits, j, vocab);
            }
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** The decode state the timed runs advance: each sequence's next token, and the position they are all at. */
    private static final class Decoder {
        private final KvStore kv;
        private final int[][] tables;
        private final int[] firstNext;
        private final int firstPosition;
        int[] next;
        int position;

        Decoder(KvStore kv, int[][] tables, int[] next, int position) {
            this.kv = kv;
            this.tables = tables;
            this.firstNext = next.clone();
            this.firstPosition = position;
            rewind();
        }

        /**
         * Back to the first decode position and tokens: the next steps overwrite the same KV slots, so every timed run
         * decodes the same contexts (the steps' attention cost grows with the context).
         */
        void rewind() {
            next = firstNext.clone();
            position = firstPosition;
        }

        /**
         * Mean milliseconds of {@code steps} greedy steps (argmax on the device) after {@code warmup} untimed ones,
         * from the first decode position.
         */
        double greedy(CudaLlamaModel g, int warmup, int steps) {
            rewind();
            double ms = 0;
            for (int i = 0; i < warmup + steps; i++) {
                long s = System.nanoTime();
                next = g.forwardGreedy(decodeBatch(next, position, tables), kv);
                if (i >= warmup) {
                    ms += (System.nanoTime() - s) / 1e6;
                }
                position++;
            }
            return ms / steps;
        }
    }

    /**
     * The same products under each weight layout of the streaming kernel, forced in turn (row-major, packed, packed
     * with 32-row warps where they fill the SMs), then the model's choice restored: which kernel streams each shape
     * fastest, whatever the load-time comparison of the whole chain decided. Empty where matmul_stream is not in use.
     */
    private static String layoutTables(CudaLlamaModel c) {
        if (!c.streamingSkinny()) {
            return "";
        }
        boolean packed = c.packedStream();
        boolean tall = c.tallStream();
        StringBuilder out = new StringBuilder();
        String[] names = {"row-major weights", "packed weights, 16-row warps", "packed weights, 32-row warps where they fill the SMs"};
        try {
            for (int v = 0; v < names.length; v++) {
                c.usePackedStream(v > 0);
                c.useTallStream(v == 2);
                out.append("Products with ").append(names[v]).append(" (forced; 20 CUDA graph replays each):\n\n")
                        .append(c.productBenchmark(new int[] {1, 16, 64}, 20)).append('\n');
            }
        } catch (RuntimeException e) {
            out.append("weight layouts not compared: ").append(e).append('\n');
        } finally {
            c.usePackedStream(packed);
            c.useTallStream(tall);
        }
        return out.toString();
    }

    /** Host cost of one kernel launch through JCuda (a tiny kernel, 2000 times): a step makes ~14 per layer. */
    private static String launchOverhead(CudaDevice dev) {
        dev.makeCurrent();
        try (DeviceBuffer a = DeviceBuffer.allocate(256, "launch probe"); DeviceBuffer b = DeviceBuffer.allocate(256, "launch probe")) {
            int launches = 2000;
            for (int i = 0; i < 200; i++) {
                dev.kernels().launch("add_inplace", 1, 1, 32, 0, a, b, 1);
            }
            dev.synchronize();
            long t0 = System.nanoTime();
            for (int i = 0; i < launches; i++) {
                dev.kernels().launch("add_inplace", 1, 1, 32, 0, a, b, 1);
            }
            long issued = System.nanoTime();
            dev.synchronize();
            long done = System.nanoTime();
            return String.format(Locale.ROOT, "kernel launch: %.2f us per launch issued, %.2f us per launch completed (%d launches)",
                    (issued - t0) / 1e3 / launches, (done - t0) / 1e3 / launches, launches);
        }
    }

    private static String num(String format, double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, format, v);
    }

    private static TokenBatch decodeBatch(int[] tokens, int position, int[][] tables) {
        int c = tokens.length;
        int[] pos = new int[c];
        int[] seq = new int[c];
        for (int j = 0; j < c; j++) {
            pos[j] = position;
            seq[j] = j;
        }
        return new TokenBatch(tokens.clone(), pos, seq, tables, seq.clone());
    }

    private static int argmax(float[] logits, int row, int vocab) {
        int best = 0;
        for (int i = 1; i < vocab; i++) {
            if (logits[row * vocab + i] > logits[row * vocab + best]) {
                best = i;
            }
        }
        return best;
    }
}

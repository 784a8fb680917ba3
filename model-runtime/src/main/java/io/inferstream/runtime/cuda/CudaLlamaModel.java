package io.inferstream.runtime.cuda;

import java.util.Map;
import java.util.Optional;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.LogitCandidates;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.TokenBatch;

/**
 * The Llama-family decoder (llama, qwen2) resident on one CUDA device: the weights are uploaded once, the
 * paged KV cache is a {@link CudaKvStore}, and every step's forward pass runs in device kernels. Per step
 * only token ids, positions, sequence indices, KV slots, block tables and logit rows go to the device, and
 * the requested logits rows (or, with {@link #forwardGreedy}, one token id per row; with {@link #forwardCandidates},
 * the k best (logit, id) pairs and two floats per row) come back.
 *
 * <p>The GGUF is read by the CPU model's loader ({@link LlamaModel#load}), so configuration, tensor names and
 * shape checks are the same; the raw tensor bytes are then uploaded from the memory-mapped file.
 *
 * <p>This class loads the model, makes and holds the load-time kernel choices (the {@code use...} switches) and runs
 * steps: a step's metadata is a {@link StepMetadata}, its kernels are a {@link ForwardPass}, and what comes back of
 * its logits is a {@link LogitHead}'s.
 */
public final class CudaLlamaModel implements LanguageModel {

    /**
     * @param memoryFraction share of the device's memory this model may use (weights, activations, KV), in (0, 1]: see
     *                       {@link MemoryPlan}
     * @param f32ToBf16      store F32 matrices as BF16 (half the memory, tensor-core products)
     * @param maxBatchTokens tokens per step whose scratch buffers are reserved up front (the engine's max batched
     *                       tokens; larger steps grow them outside the memory plan)
     * @param kQuants        how Q4_K / Q6_K weights are held
     */
    public record Options(double memoryFraction, boolean f32ToBf16, int maxBatchTokens, KQuantPolicy kQuants) {

        /** The share of free GPU memory a model takes by default (the rest is left to the driver and other work). */
        public static final double DEFAULT_MEMORY_FRACTION = 0.9;

        public Options {
            if (!(memoryFraction > 0 && memoryFraction <= 1)) {
                throw new IllegalArgumentException("GPU memory fraction must be in (0, 1], got " + memoryFraction);
            }
            if (maxBatchTokens < 1) {
                throw new IllegalArgumentException("max batch tokens must be at least 1, got " + maxBatchTokens);
            }
            if (kQuants == null) {
                throw new IllegalArgumentException("a K-quant policy is needed (AUTO, NATIVE or F16)");
            }
        }

        public static Options defaults() {
            return new Options(DEFAULT_MEMORY_FRACTION, false, 512, KQuantPolicy.AUTO);
        }

        public Options withMemoryFraction(double fraction) {
            return new Options(fraction, f32ToBf16, maxBatchTokens, kQuants);
        }

        public Options withMaxBatchTokens(int tokens) {
            return new Options(memoryFraction, f32ToBf16, tokens, kQuants);
        }

        public Options withKQuants(KQuantPolicy policy) {
            return new Options(memoryFraction, f32ToBf16, maxBatchTokens, policy);
        }
    }

    private final CudaDevice device;
    private final CudaKernels k;
    private final ModelConfig config;
    MemoryPlan plan; // the weights' bytes grow by the packed copies when those are adopted
    private final int qDim;

    private final DeviceWeights w;
    private String kQuantChoice; // how the K-quant weights are held, and why (keepKQuants)
    private final long weightBytes;

    private final StepBuffers buf; // scratch for buf.capacity tokens
    private final DeviceExpertFeedForward moe; // a mixture of experts' feed-forward block and its scratch, else null
    private StepProfile profile; // null unless a benchmark asks where the time goes
    private long steps;          // steps prepared so far: a LogitCandidates' full rows are valid until the next one
    int bufferGeneration; // bumped whenever scratch or metadata buffers move (recorded graphs then go stale)

    SkinnyScratch skinny; // non-null while the skinny decode product is on (the default for 16-bit weights)
    // The products' kernels chosen at load (ProductKernelChoices; -Dinferstream.cuda.skinny, .skinnySplit,
    // .packedStream, .tallStream, .slicedPrefill, .smallStream, .wgmma, .quantStream force them). The skinny
    // scratch's copy is what the products read (syncSkinny)
    final ProductSwitches chosen = new ProductSwitches();
    // Q/K/V and gate/up (with SwiGLU) of decode steps of 9..64 tokens as grouped skinny products: chosen at load
    // (chooseGroupedSkinny) unless -Dinferstream.cuda.skinnyGroup=on|off forces it
    boolean groupedSkinny;
    // The kernels that wait for their predecessor launched programmatically (CudaKernels.useProgrammatic; LaunchChoices)
    boolean programmaticLaunch;
    private long packedBytes; // device bytes of the packed copies

    // Split-context attention (attention_split_*: one block per token, KV head and context split, all query heads of
    // the group at once); null when the heads do not fit it. On when chosen at load (chooseAttention) or forced by
    // -Dinferstream.cuda.attention=split|old.
    final SplitAttention splitAttention;
    boolean useSplitAttention;
    // Tiled prefill attention (attention_tiled_*: a block per run of up to 64 query rows of one sequence and KV head,
    // key/value tiles shared through shared memory, tensor cores) for steps with a run of 16+ tokens, and
    // for the other steps when useTiledDecode; null when the heads do not fit it. Chosen at load (chooseTiledAttention)
    // or forced.
    final TiledAttention tiledAttention;
    boolean useTiledAttention;
    boolean useTiledDecode; // the tiled kernel for the other steps too (items of one token in a decode step)
    private long tiledSteps; // steps prepared for the tiled attention
    // rmsnorm_vec / add_rmsnorm_vec (float4, the row held in registers) instead of rmsnorm / add_rmsnorm: chosen at
    // load with the attention (-Dinferstream.cuda.norm=vec|old forces it)
    boolean vectorNorm;
    // Off by default: run 6 measured the c = 64 graph step at 2.28 ms without it and 2.36 ms with it (the fused
    // kernel reads every split of a row from one block: 64 blocks instead of splitk_reduce's 512)
    boolean fuseNorm; // chosen at load (chooseFusedNorm)
    // The norms and the SwiGLU reduction write the streaming products' 16-bit activations (see chooseFusedHalves)
    boolean fusedHalves;
    // Bytes of each layer's Wo and gate/up weights prefetched into L2 before its attention, 0 = none (chooseL2Prefetch)
    long l2Prefetch;
    // The grouped Q/K/V product's reduction, biases, RoPE and KV write in one launch (see chooseFusedRope)
    boolean fusedRope;
    // Grouped Q/K/V and gate/up products reduce their own partial sums (GroupEpilogue; chooseProductReduction)
    boolean productReduction;

    private final StepGraphs graphs; // steps replayed as CUDA graphs
    final ForwardPass pass; // a step's kernels, launched as the switches above say
    private final LogitHead head; // what comes back of the logits: the argmax or the best candidates per row
    // The load-time kernel choices (they set the switches above through the use... methods and say why)
    private final ProductKernelChoices products;
    private final EpilogueKernelChoices epilogues;
    private final LaunchChoices launches;
    private final ExpertKernelChoices expertChoices; // a mixture's, else null

    private CudaLlamaModel(CudaDevice device, Checkpoint checkpoint, LlamaModel cpu, Options options) {
        this.device = device;
        this.k = device.kernels();
        this.config = cpu.config();
        this.qDim = config.nHeads() * config.headDim();
        DeviceSupport.refusal(config).ifPresent(why -> {
            throw new IllegalArgumentException(checkpoint.path() + ": " + why + "; use --device cpu");
        });
        boolean bf16 = options.f32ToBf16();
        long[] mem = device.memoryInfo();
        long activations = MemoryPlan.activationBytes(config, options.maxBatchTokens());
        boolean kQuants = keepKQuants(cpu, options, mem, activations);
        long bytes = DeviceWeights.bytes(cpu.weights(), config, bf16, kQuants);
        this.plan = new MemoryPlan(mem[0], mem[1], options.memoryFraction(), bytes, activations);
        plan.requireFits(checkpoint.path().toString(), device.toString());

        this.w = DeviceWeights.upload(checkpoint, cpu.weights(), config, bf16, kQuants);
        this.buf = new StepBuffers(config);
        this.moe = w.mixture() ? new DeviceExpertFeedForward(config.block().experts(), config.dim()) : null;
        this.graphs = new StepGraphs(device);
        this.head = new LogitHead(k, buf, config.vocabSize());
        this.products = new ProductKernelChoices(this, w, buf, graphs);
        this.epilogues = new EpilogueKernelChoices(this, w, buf, graphs);
        this.launches = new LaunchChoices(this, w, buf, graphs);
        this.expertChoices = moe == null ? null : new ExpertKernelChoices(this, w, buf, graphs, moe);
        try {
            weightBytes = bytes;
            splitAttention = SplitAttention.unsupported(config.nHeads(), config.nKvHeads(), config.headDim()) == null
                    ? new SplitAttention(config.nHeads(), config.nKvHeads(), config.headDim()) : null;
            tiledAttention = TiledAttention.unsupported(config.nHeads(), config.nKvHeads(), config.headDim()) == null
                    ? new TiledAttention(config.nHeads(), config.nKvHeads(), config.headDim()) : null;
            pass = new ForwardPass(this, w, buf, moe, splitAttention, tiledAttention);
            ensureCapacity(options.maxBatchTokens());
            chosen.tallMinBlocks = SkinnyScratch.tallMinBlocks(device.multiprocessors());
            boolean sixteenBit = false;
            boolean quantized = false;
            for (DeviceMatrix m : w.allMatrices()) {
                sixteenBit |= m.type() == GgmlType.BF16
                        || m.type() == GgmlType.F16;
                quantized |= m.quantStreamable();
            }
            useSkinnyDecode(sixteenBit || quantized); // the scratch serves the quantized tensor-core products too
            // Each choice that throws (a launch the driver refuses, memory it cannot get) leaves the proven way on and
            // says why in kernelChoices(), rather than failing the load: much of this was written without a GPU.
            if (sixteenBit) {
                choose("inferstream.cuda.skinny", products::chooseSkinnyKernel, () -> {
                    useStreamingSkinny(false);
                    useWideStream(false);
                    usePipelinedSkinny(false);
                    useStagedSkinny(false);
                }, why -> products.skinnyChoice = "matmul_skinny: " + why);
                choose("inferstream.cuda.skinnyGroup", products::chooseGroupedSkinny, () -> useGroupedSkinny(false),
                        why -> products.skinnyChoice += "; grouped products off: " + why);
                choose("inferstream.cuda.skinnySplit", products::chooseDeepSplit, () -> useDeepSplit(false), why -> products.skinnyChoice += "; split-K default: " + why);
                choose("inferstream.cuda.packedStream", products::choosePackedStream, () -> usePackedStream(false), why -> products.packedStreamChoice = why);
                choose("inferstream.cuda.tallStream", products::chooseTallStream, () -> useTallStream(false), why -> products.tallStreamChoice = why);
                choose("inferstream.cuda.slicedPrefill", products::chooseSlicedPrefill, () -> useSlicedPrefill(false), why -> products.slicedPrefillChoice = why);
                choose("inferstream.cuda.smallStream", products::chooseSmallStream, () -> useSmallStream(false), why -> products.smallStreamChoice = why);
                choose("inferstream.cuda.wgmma", products::chooseWgmma, () -> useWgmma(false), why -> products.wgmmaChoice = why);
            }
            if (quantized) {
                choose("inferstream.cuda.quantStream", products::chooseQuantStream, () -> useQuantStream(false), why -> products.quantStreamChoice = why);
            }
            choose("inferstream.cuda.attention", epilogues::chooseAttention, () -> {
                useSplitAttention(false);
                useVectorNorm(false);
            }, why -> epilogues.attentionChoice = why);
            choose("inferstream.cuda.attentionPrefetch", epilogues::chooseAttentionPrefetch, () -> useAttentionPrefetch(false),
                    why -> epilogues.attentionPrefetchChoice = why);
            choose("inferstream.cuda.tiledAttention", epilogues::chooseTiledAttention, () -> {
                useTiledAttention(false);
                useTiledDecode(false);
            }, why -> epilogues.tiledAttentionChoice = why);
            if (sixteenBit) { // after chooseAttention: they need its kernels
                choose("inferstream.cuda.fuseHalves", epilogues::chooseFusedHalves, () -> useFusedHalves(false), why -> epilogues.fusedHalvesChoice = why);
                choose("inferstream.cuda.fuseRope", epilogues::chooseFusedRope, () -> useFusedRope(false), why -> epilogues.fusedRopeChoice = why);
                choose("inferstream.cuda.productReduction", epilogues::chooseProductReduction, () -> useProductReduction(false),
                        why -> epilogues.productReductionChoice = why);
                choose("inferstream.cuda.fuseNorm", epilogues::chooseFusedNorm, () -> useFusedNorm(false), why -> epilogues.fusedNormChoice = why);
                choose("inferstream.cuda.l2PrefetchMiB", epilogues::chooseL2Prefetch, () -> useL2Prefetch(0), why -> epilogues.l2PrefetchChoice = why);
            }
            if (moe != null) {
                choose(ExpertKernelChoices.PROPERTY, expertChoices::chooseTensorCores, () -> {
                    moe.useTensorCores(null);
                    moe.useTensorCoreSlots(DeviceExpertFeedForward.TENSOR_CORE_SLOTS);
                }, why -> expertChoices.choice = moe.tensorCoreChoice() + ": " + why);
            }
            // last: it times the whole step the kernels chosen above make
            choose("inferstream.cuda.programmaticLaunch", launches::chooseProgrammaticLaunch, () -> useProgrammaticLaunch(false),
                    why -> launches.programmaticLaunchChoice = why);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Whether Q4_K / Q6_K matrices stay quantized on the device (tensor.QuantPlanes, read by the matvec, tiled and
     * embedding kernels: about 0.75 and 1.25 bytes a weight) rather than decoded to F16 (2 bytes a weight, for the
     * tensor-core and streaming kernels, whose speed the H200 runs measured): as {@code policy} says (see
     * {@link KQuantPolicy}). Sets {@link #kQuantChoice}.
     */
    private boolean keepKQuants(LlamaModel cpu, Options options, long[] memory, long activations) {
        if (!DeviceWeights.hasKQuants(cpu.weights(), config)) {
            kQuantChoice = "no Q4_K or Q6_K matrices";
            return false;
        }
        boolean bf16 = options.f32ToBf16();
        long decoded = DeviceWeights.bytes(cpu.weights(), config, bf16, false);
        long kept = DeviceWeights.bytes(cpu.weights(), config, bf16, true);
        String sizes = "weights " + MemoryPlan.gib(kept) + " as Q4_K / Q6_K, " + MemoryPlan.gib(decoded) + " decoded";
        KQuantPolicy policy = options.kQuants();
        boolean keep = policy.keeps(new MemoryPlan(memory[0], memory[1], options.memoryFraction(), decoded, activations));
        kQuantChoice = (keep ? "kept as Q4_K / Q6_K" : "decoded to F16") + switch (policy) {
            case AUTO -> keep ? ": decoded they would not fit in the memory budget (" + sizes + ")"
                    : " (the measured kernels; --gpu-kquants NATIVE keeps them quantized: " + sizes + ")";
            default -> " (--gpu-kquants " + policy + "; " + sizes + ")";
        };
        return keep;
    }

    /**
     * The value of an on|off system property that forces a load-time choice, or null when unset; any other value is
     * refused with the property named (the load then keeps the proven way and kernelChoices() says why).
     */
    static String onOff(String property) {
        String v = System.getProperty(property);
        if (v != null && !v.equals("on") && !v.equals("off")) {
            throw new IllegalArgumentException("-D" + property + " must be on or off, got '" + v + "'");
        }
        return v;
    }

    /**
     * Runs a load-time choice (forced, trial skipped, by the system property {@code property}); where it throws, puts
     * the proven way back and hands the reason to {@code why}. Where the throw took the CUDA context with it (a kernel
     * that faulted: every later call fails), the load fails here instead, naming the choice and its property, rather
     * than with the next choice's or the first step's error.
     */
    private void choose(String property, Runnable choice, Runnable provenWay, java.util.function.Consumer<String> why) {
        if (w.mixture() && DENSE_FFN_TRIALS.contains(property) && System.getProperty(property) == null) {
            provenWay.run();
            why.accept("not tried: its trial runs layer 0's dense feed-forward products, and this model's feed-forward "
                    + "blocks are mixtures of experts");
            return;
        }
        try {
            choice.run();
        } catch (RuntimeException e) {
            try {
                device.synchronize();
            } catch (RuntimeException lost) {
                IllegalStateException dead = new IllegalStateException(lostContext(property, e, lost));
                dead.addSuppressed(e);
                throw dead;
            }
            provenWay.run();
            why.accept("failed at load, the proven way kept: " + e);
        }
    }

    /** The load-time choices whose trials run layer 0's gate, up and down products (a mixture of experts has none). */
    private static final java.util.Set<String> DENSE_FFN_TRIALS = java.util.Set.of("inferstream.cuda.skinny",
            "inferstream.cuda.skinnyGroup", "inferstream.cuda.skinnySplit", "inferstream.cuda.packedStream",
            "inferstream.cuda.tallStream", "inferstream.cuda.slicedPrefill", "inferstream.cuda.smallStream",
            "inferstream.cuda.wgmma", "inferstream.cuda.quantStream", "inferstream.cuda.fuseHalves",
            "inferstream.cuda.productReduction", "inferstream.cuda.l2PrefetchMiB");

    /** The message of a load that a choice's trial left without a usable CUDA context. */
    static String lostContext(String property, RuntimeException trial, RuntimeException after) {
        return "the CUDA context was lost in the load-time kernel choice that -D" + property + " forces (" + trial
                + "; then " + after + "): this process cannot use the device any more. Force the choice with -D"
                + property + " (on|off, or the value its kernelChoices() line names) to skip its trial";
    }

    /** Loads a llama / qwen2 model (GGUF or Hugging Face safetensors) onto {@code device}. */
    public static CudaLlamaModel load(Checkpoint checkpoint, CudaDevice device, Options options) {
        device.makeCurrent();
        return new CudaLlamaModel(device, checkpoint, checkpoint.loadModel(), options);
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    public CudaDevice device() {
        return device;
    }

    public MemoryPlan memoryPlan() {
        return plan;
    }

    /** Device bytes of all weights. */
    public long weightBytes() {
        return weightBytes;
    }

    /**
     * Weight bytes a decode step reads: every layer matrix and the output matrix once (see
     * {@link DeviceWeights#bytesReadPerDecodeStep}).
     */
    public long bytesReadPerDecodeStep() {
        return w.bytesReadPerDecodeStep(config);
    }

    /** Profiles the following steps part by part (null to stop); synchronizes after every part. */
    public synchronized void profile(StepProfile p) {
        this.profile = p;
    }

    /** Weight bytes each {@link StepProfile.Part} reads per step (for its bandwidth column). */
    public long[] bytesPerPart() {
        long[] b = new long[StepProfile.Part.values().length];
        for (int l = 0; l < config.nLayers(); l++) {
            b[StepProfile.Part.QKV_MATMUL.ordinal()] += w.wq[l].bytes() + w.wk[l].bytes() + w.wv[l].bytes();
            b[StepProfile.Part.WO_MATMUL.ordinal()] += w.wo[l].bytes();
            b[StepProfile.Part.FFN_MATMUL.ordinal()] += w.feedForwardBytes(l, config);
        }
        b[StepProfile.Part.OUTPUT_MATMUL.ordinal()] = w.output.bytes();
        return b;
    }

    void mark(StepProfile.Part part) {
        if (profile != null) {
            profile.mark(part);
        }
    }

    /** What the memory plan leaves for the KV cache after the weights and activations (the engine's auto budget). */
    @Override
    public java.util.OptionalLong kvCacheBudget() {
        return java.util.OptionalLong.of(Math.max(0, plan.kvBytes()));
    }

    /** KV blocks that fit in what the memory plan leaves after the weights and activations. */
    public int maxKvBlocks(int blockSize, KvStore.Precision precision) {
        return plan.kvBlocks(config, blockSize, precision);
    }

    @Override
    public KvStore newKvStore(int numBlocks, int blockSize, KvStore.Precision precision) {
        device.makeCurrent();
        long need = (long) numBlocks * KvStore.bytesPerBlock(config.nLayers(), config.kvDim(), blockSize, precision);
        long free = device.memoryInfo()[0];
        if (need > free) {
            long perBlock = KvStore.bytesPerBlock(config.nLayers(), config.kvDim(), blockSize, precision);
            throw new IllegalStateException("KV cache of " + numBlocks + " blocks x " + blockSize + " positions ("
                    + precision + ") needs " + MemoryPlan.gib(need) + " but " + device + " has " + MemoryPlan.gib(free)
                    + " free: at most " + free / perBlock + " blocks fit");
        }
        return new CudaKvStore(device, config.nLayers(), config.kvDim(), numBlocks, blockSize, precision);
    }

    @Override
    public synchronized float[] forward(TokenBatch batch, KvStore kv) {
        int m = batch.logitRows().length;
        if (m == 0) {
            forwardOnDevice(batch, kv, false);
            return new float[0];
        }
        forwardOnDevice(batch, kv, true);
        float[] out = new float[m * config.vocabSize()];
        buf.logits.download(out, out.length);
        return out;
    }

    /**
     * Runs the step like {@link #forward} and returns, per logit row, the token with the largest logit (the
     * lowest id on ties), computed on the device: one int per row crosses the bus instead of the vocabulary.
     */
    public synchronized int[] forwardGreedy(TokenBatch batch, KvStore kv) {
        int m = batch.logitRows().length;
        if (m == 0) {
            forwardOnDevice(batch, kv, false);
            return new int[0];
        }
        StepShape shape = prepare(batch, kv);
        if (graphs.on() && profile == null) {
            replay(shape, (CudaKvStore) kv, 0);
        } else {
            launchStepWithHead(shape, (CudaKvStore) kv, 0);
        }
        int[] out = new int[m];
        buf.ints.download(out, m); // the default stream waits for the graph's (blocking) stream
        return out;
    }

    /** The logits live in device memory: the engine asks for candidates unless told otherwise. */
    @Override
    public boolean logitsOnDevice() {
        return true;
    }

    /**
     * Runs the step and selects each row's {@code k} best logits on the device (sampling.cu topk_rows, the order
     * of {@link LogitCandidates#sortKey}), with the row's max and sum of exp: per row 2k + 2 numbers cross the bus
     * instead of the vocabulary. Decode steps are replayed as CUDA graphs like greedy steps; steps with prefill
     * chunks run eagerly. The full rows stay in the device's
     * logits buffer until the next step ({@link LogitCandidates#fullRow} copies one back).
     */
    @Override
    public synchronized LogitCandidates forwardCandidates(TokenBatch batch, KvStore kv, int k) {
        int vocab = config.vocabSize();
        int kk = LogitCandidates.effectiveK(k, vocab);
        int m = batch.logitRows().length;
        if (m == 0) {
            forwardOnDevice(batch, kv, false);
            return new LogitCandidates(0, kk, vocab, new float[0], new int[0], new float[0], new double[0], r -> {
                throw new IndexOutOfBoundsException("no logits rows");
            });
        }
        StepShape shape = prepare(batch, kv);
        // Decode steps (every token a logits row) repeat their shape step after step: replayed as graphs. Steps with
        // prefill chunks rarely repeat theirs in the engine, and recording a graph used once costs more than it saves.
        if (graphs.on() && profile == null && shape.n() == shape.m()) {
            replay(shape, (CudaKvStore) kv, kk);
        } else {
            launchStepWithHead(shape, (CudaKvStore) kv, kk);
        }
        int pairs = m * kk;
        int[] raw = new int[2 * pairs + 2 * m]; // logits (float bits) [m, k] | ids [m, k] | (max, sum) [m, 2]
        buf.candidates.download(raw, raw.length);
        float[] top = new float[pairs];
        int[] ids = new int[pairs];
        for (int i = 0; i < pairs; i++) {
            top[i] = Float.intBitsToFloat(raw[i]);
            ids[i] = raw[pairs + i];
        }
        float[] max = new float[m];
        double[] lse = new double[m];
        for (int r = 0; r < m; r++) {
            max[r] = Float.intBitsToFloat(raw[2 * pairs + 2 * r]);
            lse[r] = max[r] + Math.log(Float.intBitsToFloat(raw[2 * pairs + 2 * r + 1]));
        }
        long generation = steps;
        return new LogitCandidates(m, kk, vocab, top, ids, max, lse, r -> fullRow(r, generation));
    }

    /** Row {@code r} of the device logits, if no step has run since step {@code generation}. */
    private synchronized float[] fullRow(int r, long generation) {
        if (generation != steps) {
            throw new IllegalStateException("the logits of step " + generation + " were overwritten by step " + steps
                    + "; fetch full rows before the next forward");
        }
        device.makeCurrent();
        float[] row = new float[config.vocabSize()];
        buf.logits.download(row, (long) r * config.vocabSize(), row.length);
        return row;
    }

    /** The step's kernels, then its head on the logits: each row's argmax into the ints (kk 0), or its kk best candidates. */
    private void launchStepWithHead(StepShape shape, CudaKvStore kv, int kk) {
        pass.launch(shape, kv, true);
        if (kk == 0) {
            head.argmax(shape.m());
        } else {
            head.topK(shape.m(), kk);
        }
    }

    /**
     * Greedy steps as CUDA graphs: the ~10 launches per layer of a step are recorded once per step shape
     * and replayed with one launch (the metadata is uploaded before each replay into the same buffer).
     * On by default (the first H200 run showed replays token-identical to eager steps); if recording fails,
     * the model says why ({@link #graphFailure()}) and runs eagerly.
     */
    public synchronized void useCudaGraphs(boolean on) {
        graphs.use(on);
    }

    /**
     * Decode steps of 9..64 tokens use the split-K skinny tensor-core product for BF16/F16 matrices
     * (matmul.cu) instead of the tiled one. On by default when the model has 16-bit matrices (6-10x faster
     * than the tiled product at 16 and 64 tokens on the H200).
     */
    public synchronized void useSkinnyDecode(boolean on) {
        device.makeCurrent();
        if (on && skinny == null) {
            long maxCols = 0;
            long maxPartial = 0;
            for (DeviceMatrix m : w.allMatrices()) {
                maxCols = Math.max(maxCols, m.cols());
                maxPartial = Math.max(maxPartial, SkinnyScratch.partialFloats(m.rows(), m.cols()));
            }
            for (int l = 0; l < config.nLayers(); l++) { // grouped products keep all their partial sums at once
                maxPartial = Math.max(maxPartial, DeviceMatrix.groupPartialFloats(w.wq[l], w.wk[l], w.wv[l]));
                if (!w.mixture()) {
                    maxPartial = Math.max(maxPartial, DeviceMatrix.groupPartialFloats(w.gate[l], w.up[l]));
                }
            }
            skinny = new SkinnyScratch(maxCols, maxPartial, SkinnyScratch.groupBlocks(config));
            syncSkinny();
            bufferGeneration++;
        } else if (!on && skinny != null) {
            skinny.close();
            skinny = null;
            bufferGeneration++;
        }
    }

    /**
     * Gives the skinny scratch this model's kernel choices (the scratch is what the product code reads; the model keeps
     * them while the scratch is off or being compared); recorded graphs go stale when any of them changed. The sliced
     * products' activations are sized here, so a step never allocates.
     */
    void syncSkinny() {
        if (skinny == null) {
            return;
        }
        SkinnyScratch s = skinny;
        boolean changed = s.kernels.copyFrom(chosen);
        if (chosen.slicedPrefill || chosen.quant) {
            s.sliceHalves(buf.capacity, maxSliceCols());
        }
        if (chosen.quant) {
            s.blockSums(buf.capacity, maxSliceCols());
        }
        if (changed) {
            bufferGeneration++; // recorded graphs name the other kernels, grids and buffers
        }
    }

    /**
     * Whether the skinny product stages the activations through shared memory (matmul_skinny_smem: one L2 read
     * of each K tile per 4 warps instead of one per warp). Chosen at load by {@link ProductKernelChoices#chooseSkinnyKernel}.
     */
    public synchronized void useStagedSkinny(boolean on) {
        chosen.staged = on;
        syncSkinny();
    }

    /**
     * Whether Q8_0 and kept Q4_K matrices run matmul_stream_q8 / _q4_k (tensor cores) for steps of more than 8 tokens.
     * Chosen at load by {@link ProductKernelChoices#chooseQuantStream}; needs the skinny scratch (a model with such
     * matrices has one).
     */
    public synchronized void useQuantStream(boolean on) {
        if (on && skinny == null) {
            throw new IllegalStateException("the quantized tensor-core products need the skinny scratch (useSkinnyDecode)");
        }
        chosen.quant = on;
        syncSkinny();
    }

    /** Whether Q8_0 / Q4_K products of more than 8 tokens run on tensor cores. */
    public synchronized boolean quantStream() {
        return chosen.quant;
    }

    /**
     * Forces a mixture's experts onto tensor cores (true) or CUDA cores (false) in every step; null: from the slots per
     * expert the load-time trial chose ({@link ExpertKernelChoices}). No-op for a dense model.
     */
    public synchronized void useExpertTensorCores(Boolean on) {
        if (moe != null) {
            moe.useTensorCores(on);
            expertChoices.choice = moe.tensorCoreChoice() + " (set after the load)";
            bufferGeneration++; // recorded graphs hold the other launches
        }
    }

    /** Whether the skinny product stages its activations through shared memory. */
    public synchronized boolean stagedSkinny() {
        return chosen.staged;
    }

    /** What each load-time kernel choice decided and why, in the order the model makes them (the bench prints them). */
    public synchronized Map<String, String> kernelChoices() {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("Q4_K / Q6_K weights", kQuantChoice);
        m.put("skinny kernel", skinnyChoice());
        m.put("attention and norm kernels", attentionChoice());
        m.put("split attention loading rows a round ahead", attentionPrefetchChoice());
        m.put("tiled attention", epilogues.tiledAttentionChoice);
        m.put("weight layout of the streaming products", packedStreamChoice());
        m.put("rows per warp of the streaming products on packed weights", tallStreamChoice());
        m.put("products of more than 64 tokens (prefill)", slicedPrefillChoice());
        m.put("steps of 1..8 tokens", smallStreamChoice());
        m.put("tensor-core instruction of the streaming products", wgmmaChoice());
        m.put("Q8_0 / Q4_K / Q6_K products of more than 8 tokens", products.quantStreamChoice);
        m.put("16-bit activations of the streaming products", fusedHalvesChoice());
        m.put("Q/K/V reduction, RoPE and KV write", fusedRopeChoice());
        m.put("products reducing their own partial sums (grouped ones; Wo and down into the residual)", productReductionChoice());
        m.put("Wo and down split-K reduction", fusedNormChoice());
        m.put("L2 prefetch of Wo and gate/up during the attention", l2PrefetchChoice());
        m.put("programmatic dependent launch (sm_90)", programmaticLaunchChoice());
        if (moe != null) {
            m.put("experts' products", expertChoices.choice);
        }
        return m;
    }

    /** Which skinny kernel the model chose at load, and why (timings of both). */
    public String skinnyChoice() {
        return products.skinnyChoice;
    }

    /** Whether decode steps of 9..64 tokens use the grouped Q/K/V and gate/up (SwiGLU) skinny products. */
    public synchronized void useGroupedSkinny(boolean on) {
        if (groupedSkinny != on) {
            groupedSkinny = on;
            bufferGeneration++; // recorded graphs hold the other launches
        }
    }

    /** Whether the skinny products split under-filled matrices deeper (see SkinnyScratch). Chosen at load. */
    public synchronized void useDeepSplit(boolean on) {
        chosen.deepSplit = on;
        syncSkinny();
    }

    /** Whether the skinny products split K deep. */
    public synchronized boolean deepSplit() {
        return chosen.deepSplit;
    }

    /**
     * The streaming products read packed copies of the weights (DeviceMatrix.packForStream, stream.cu says why) or
     * the row-major ones. Turning it on packs every matrix the streaming product can take that has no copy yet
     * (the memory plan's weight bytes grow by them, so the KV pool sized after this is smaller); off frees them.
     */
    public synchronized void usePackedStream(boolean on) {
        device.makeCurrent();
        for (DeviceMatrix m : w.allMatrices()) {
            if (!on) {
                m.dropPacked();
            } else if (m.packable()) {
                packedBytes += chosen.wgmma ? m.packForWgmma(k) : m.packForStream(k); // the packing the chosen kernels read
            }
        }
        if (!on) {
            packedBytes = 0;
            chosen.wgmma = false; // the warpgroup-MMA kernels read packed weights only
        }
        chosen.packed = on;
        syncSkinny();
        plan = new MemoryPlan(plan.deviceFree(), plan.deviceTotal(), plan.fraction(), weightBytes + packedBytes,
                plan.activationBytes());
    }

    /** Whether the streaming products read packed weights. */
    public synchronized boolean packedStream() {
        return chosen.packed;
    }

    /** The weight layout the streaming products read, and the load-time comparison behind it. */
    public synchronized String packedStreamChoice() {
        return (chosen.packed ? String.format(java.util.Locale.ROOT, "packed (%.2f GiB of copies)", packedBytes / (double) (1L << 30))
                : "row-major") + ": " + products.packedStreamChoice;
    }

    /** With packed weights: the streaming products run 8 warps of 32 rows per block (the _tall_packed kernels). */
    public synchronized void useTallStream(boolean on) {
        chosen.streamTall = on;
        syncSkinny();
    }

    /**
     * The fewest blocks a product's tall launch must have for it to run the tall kernel (default: 7/8 of the device's
     * SMs, one 256-row block each); smaller products keep 16-row warps. Tests set 1 to run the tall kernel on small models.
     */
    public synchronized void tallStreamMinBlocks(int blocks) {
        chosen.tallMinBlocks = blocks;
        syncSkinny();
    }

    /** Whether the streaming products on packed weights run 32 rows per warp. */
    public synchronized boolean tallStream() {
        return chosen.streamTall;
    }

    /** Rows per warp of the streaming products on packed weights, and the load-time comparison behind it. */
    public synchronized String tallStreamChoice() {
        return (chosen.streamTall ? "32 rows per warp (matmul_stream_tall_packed) for products of at least "
                + chosen.tallMinBlocks
                + " such blocks" : "16 rows per warp") + ": " + products.tallStreamChoice;
    }

    /** Widest input of a product: the columns the sliced products' 16-bit activations need. */
    int maxSliceCols() {
        return Math.max(Math.max(config.dim(), config.hiddenDim()), qDim);
    }

    /** Products of more than 64 tokens as matmul_stream_slices (on) or the tiled WMMA kernel (off). */
    public synchronized void useSlicedPrefill(boolean on) {
        chosen.slicedPrefill = on;
        syncSkinny();
    }

    /** Whether products of more than 64 tokens run as 64-token slices of the streaming kernel. */
    public synchronized boolean slicedPrefill() {
        return chosen.slicedPrefill;
    }

    /** The kernel of products of more than 64 tokens, and the load-time comparison behind it. */
    public synchronized String slicedPrefillChoice() {
        return (chosen.slicedPrefill ? "matmul_stream_slices" : "matmul_wmma") + ": " + products.slicedPrefillChoice;
    }

    /** Routes decode steps of 1..8 tokens through matmul_stream (when it is the skinny kernel) instead of matvec. */
    public synchronized void useSmallStream(boolean on) {
        chosen.small = on;
        syncSkinny();
    }

    /** Whether steps of 1..8 tokens use matmul_stream, and the load-time comparison behind it. */
    public synchronized String smallStreamChoice() {
        return (chosen.small ? "matmul_stream" : "matvec") + " for 1..8 tokens: " + products.smallStreamChoice;
    }

    /** Whether the grouped skinny products are on. */
    public synchronized boolean groupedSkinny() {
        return groupedSkinny;
    }

    /** The skinny kernel in use. */
    String skinnyKernelName() {
        return chosen.streaming ? (chosen.streamWide ? "matmul_stream_wide" : "matmul_stream")
                : chosen.pipelined ? "matmul_skinny_pipe" : chosen.staged ? "matmul_skinny_smem" : "matmul_skinny";
    }

    /**
     * Whether the skinny product streams weight and activation tiles through a cp.async pipeline
     * (matmul_skinny_pipe; takes precedence over the staged kernel). Chosen at load by {@link ProductKernelChoices#chooseSkinnyKernel}.
     */
    public synchronized void usePipelinedSkinny(boolean on) {
        chosen.pipelined = on;
        syncSkinny();
    }

    /**
     * Whether the skinny product is matmul_stream (stream.cu: weights streamed straight into tensor-core fragments,
     * its own split-K; takes precedence over the pipelined and staged kernels). Chosen at load by
     * {@link ProductKernelChoices#chooseSkinnyKernel}.
     */
    public synchronized void useStreamingSkinny(boolean on) {
        chosen.streaming = on;
        syncSkinny();
    }

    /** With the streaming kernel: its 16-warp blocks (matmul_stream_wide) instead of 8-warp ones. Chosen at load. */
    public synchronized void useWideStream(boolean on) {
        chosen.streamWide = on;
        syncSkinny();
    }

    /** Whether the streaming kernel runs 16-warp blocks. */
    public synchronized boolean wideStream() {
        return chosen.streamWide;
    }

    /** Whether the skinny product is matmul_stream. */
    public synchronized boolean streamingSkinny() {
        return chosen.streaming;
    }

    /** Whether the skinny product uses the cp.async pipeline kernel. */
    public synchronized boolean pipelinedSkinny() {
        return chosen.pipelined;
    }

    /** Whether the skinny decode product is on. */
    public synchronized boolean skinnyDecode() {
        return skinny != null;
    }

    /**
     * Where a decode step's weight reads go: layer 0's products and the output head at each token count, launched as
     * steps launch them, timed as {@code reps} CUDA graph replays; a markdown table (see {@link ProductTable}).
     * Overwrites the activation scratch buffers (not the KV cache).
     */
    public synchronized String productBenchmark(int[] tokenCounts, int reps) {
        if (w.mixture()) { // the table's rows are a dense layer's products
            return "(no per-product table: this model's feed-forward blocks are mixtures of experts)\n";
        }
        return new ProductTable(this, w, buf, graphs).markdown(tokenCounts, reps);
    }

    /** Why graph recording was given up, or null. */
    public String graphFailure() {
        return graphs.failure();
    }

    /** Steps run as a graph replay so far. */
    public long graphLaunches() {
        return graphs.launches();
    }

    private void replay(StepShape shape, CudaKvStore kv, int head) {
        graphs.replay(new StepGraphs.Key(shape.n(), shape.m(), shape.maxBlocks(), shape.items(), kv, bufferGeneration, head),
                () -> launchStepWithHead(shape, kv, head));
    }

    /** Device logits of the last step, [logitRows, vocab] (tests). */
    DeviceBuffer deviceLogits() {
        return buf.logits;
    }

    private void forwardOnDevice(TokenBatch batch, KvStore store, boolean wantLogits) {
        StepShape shape = prepare(batch, store);
        pass.launch(shape, (CudaKvStore) store, wantLogits);
    }

    /** Validates the step and uploads its metadata (one copy); the launches then only read device memory. */
    StepShape prepare(TokenBatch batch, KvStore store) {
        if (!(store instanceof CudaKvStore kv)) {
            throw new IllegalArgumentException("the CUDA model needs the KV store from its own newKvStore, got "
                    + store.getClass().getName());
        }
        StepMetadata.validate(batch, kv, config);
        device.makeCurrent();
        if (profile != null) {
            profile.start();
        }
        int n = batch.size();
        steps++;
        ensureCapacity(n);
        boolean prefill = TiledAttention.worthIt(batch.seq(), batch.positions(), n);
        int[] items = (prefill ? useTiledAttention : useTiledDecode)
                ? TiledAttention.plan(batch.seq(), batch.positions(), n, tiledAttention.tokensPerItem()) : new int[0];
        if (items.length > 0) {
            tiledSteps++;
        }
        StepMetadata meta = StepMetadata.of(batch, kv.blockSize(), items);
        if (buf.ensureInts(meta.ints().length)) {
            bufferGeneration++;
        }
        buf.ints.upload(meta.ints(), meta.ints().length);
        mark(StepProfile.Part.METADATA);
        return meta.shape();
    }

    /** Sets the bytes of each layer's Wo and gate/up prefetched into L2 before its attention (0: none). */
    public synchronized void useL2Prefetch(long bytes) {
        if (l2Prefetch != bytes) {
            l2Prefetch = bytes;
            bufferGeneration++; // recorded graphs hold the other launches
        }
    }

    /** Bytes prefetched per layer (0: none). */
    public synchronized long l2Prefetch() {
        return l2Prefetch;
    }

    /** What {@link EpilogueKernelChoices#chooseL2Prefetch} decided, and why. */
    public synchronized String l2PrefetchChoice() {
        return (l2Prefetch == 0 ? "none" : (l2Prefetch >> 20) + " MiB per layer") + ": " + epilogues.l2PrefetchChoice;
    }

    /** Turns the fused Q/K/V reduction + RoPE + KV write on or off (chosen at load; the bench times the other way). */
    public synchronized void useFusedRope(boolean on) {
        if (fusedRope != on) {
            fusedRope = on;
            bufferGeneration++; // recorded graphs hold the other kernels
        }
    }

    /** Whether grouped Q/K/V products reduce, add biases, rotate and write the KV cache in one launch. */
    public synchronized boolean fusedRope() {
        return fusedRope;
    }

    /** What {@link EpilogueKernelChoices#chooseFusedRope} decided, and why. */
    public synchronized String fusedRopeChoice() {
        return (fusedRope ? "splitk_reduce_rope_kv" : "splitk_reduce_group + rope_kv_store") + ": " + epilogues.fusedRopeChoice;
    }

    /** Whether the split attention loads each round's key and value rows a round ahead (the _pf kernels). */
    public synchronized void useAttentionPrefetch(boolean on) {
        if (splitAttention != null && splitAttention.prefetch != on) {
            splitAttention.prefetch = on;
            bufferGeneration++; // recorded graphs hold the other kernels
        }
    }

    /** Whether the split attention loads rows a round ahead. */
    public synchronized boolean attentionPrefetch() {
        return splitAttention != null && splitAttention.prefetch;
    }

    /** What {@link EpilogueKernelChoices#chooseAttentionPrefetch} decided, and why. */
    public synchronized String attentionPrefetchChoice() {
        return (attentionPrefetch() ? "attention_split_pf" : "attention_split") + ": " + epilogues.attentionPrefetchChoice;
    }

    /**
     * Turns on or off the streaming products that reduce their own partial sums (Q/K/V with RoPE and the KV write,
     * gate/up with SwiGLU, Wo and down adding into the residual stream: {@link GroupEpilogue}); chosen at load, the
     * bench times the other way.
     */
    public synchronized void useProductReduction(boolean on) {
        if (on && (skinny == null || skinny.counters == null)) {
            throw new IllegalStateException("the grouped products reduce their own sums with the skinny scratch's counters");
        }
        if (productReduction != on) {
            productReduction = on;
            bufferGeneration++; // recorded graphs hold the other kernels
        }
    }

    /**
     * Runs the packed 16-bit streaming products on Hopper's warpgroup MMAs (the sm_90a module, compute capability 9.x
     * only), each matrix repacked in that module's order (pack_stream_weights_wg; the mma.sync packing is freed, the
     * same bytes), or back on mma.sync with its packing. Needs the packed weights ({@link #usePackedStream}); chosen at
     * load, the bench times the other way.
     */
    public synchronized void useWgmma(boolean on) {
        if (on && !k.wgmmaAvailable()) {
            throw new IllegalStateException("no warpgroup-MMA products on " + device + ": " + k.wgmmaStatus());
        }
        if (on && !chosen.packed) {
            throw new IllegalStateException("the warpgroup-MMA products read packed weights: turn usePackedStream on first");
        }
        device.makeCurrent();
        if (chosen.packed) {
            for (DeviceMatrix m : w.allMatrices()) {
                if (m.packable()) {
                    if (on) {
                        m.packForWgmma(k);
                        m.dropPackedMma();
                    } else {
                        m.packForStream(k);
                        m.dropPackedWgmma();
                    }
                }
            }
        }
        if (chosen.wgmma != on) {
            chosen.wgmma = on;
            bufferGeneration++; // recorded graphs hold the other kernels
        }
        syncSkinny();
    }

    /**
     * Launches the kernels that wait for their predecessor (common.cuh's pdl_wait: the norms before the products, the
     * split and tiled attention and the split-K reductions from the compute_90 twins, and the sm_90a products) with the
     * programmatic-serialization attribute, so each may be scheduled while the kernel before it finishes (its first
     * weight chunks on their way, for a product), or all as before. Compute capability 9.x and a JVM with
     * {@link ProgrammaticLaunch#JVM_FLAGS}; chosen at load, the bench times the other way.
     */
    public synchronized void useProgrammaticLaunch(boolean on) {
        k.useProgrammatic(on);
        if (programmaticLaunch != on) {
            programmaticLaunch = on;
            bufferGeneration++; // recorded graphs hold the other launches
        }
    }

    /** Whether kernels can be launched programmatically here (see {@link #useProgrammaticLaunch}). */
    public synchronized boolean programmaticLaunchAvailable() {
        return k.programmaticAvailable();
    }

    /** Whether the kernels that wait for their predecessor are launched programmatically. */
    public synchronized boolean programmaticLaunch() {
        return programmaticLaunch;
    }

    /** What {@link LaunchChoices#chooseProgrammaticLaunch} decided, and why. */
    public synchronized String programmaticLaunchChoice() {
        return (programmaticLaunch ? "on (" + k.programmaticKernels().size() + " kernels)" : "off") + ": "
                + launches.programmaticLaunchChoice;
    }

    /** Whether the device has the warpgroup-MMA products (compute capability 9.x and the sm_90a module loaded). */
    public synchronized boolean wgmmaAvailable() {
        return k.wgmmaAvailable();
    }

    /** Whether the 16-bit streaming products run on warpgroup MMAs. */
    public synchronized boolean wgmma() {
        return chosen.wgmma;
    }

    /** What {@link ProductKernelChoices#chooseWgmma} decided, and why. */
    public synchronized String wgmmaChoice() {
        return (chosen.wgmma ? "wgmma (sm_90a)" : "mma.sync") + ": " + products.wgmmaChoice;
    }

    /** Whether the grouped products can reduce their own partial sums here (the streaming products and their counters). */
    public synchronized boolean productReductionAvailable() {
        return skinny != null && skinny.kernels.streaming && skinny.counters != null;
    }

    /** Whether grouped Q/K/V and gate/up products reduce their own partial sums. */
    public synchronized boolean productReduction() {
        return productReduction;
    }

    /** What {@link EpilogueKernelChoices#chooseProductReduction} decided, and why. */
    public synchronized String productReductionChoice() {
        return (productReduction ? "in the products" : "separate reduction kernels") + ": " + epilogues.productReductionChoice;
    }

    /** Whether a step of n tokens has every layer's products read 16-bit activations their producers wrote (tests). */
    public synchronized boolean producersWriteHalves(int n) {
        for (int l = 0; l < config.nLayers(); l++) {
            if (!pass.qkvReadsHalves(l, n) || !pass.woReadsHalves(l, n) || !pass.downReadsHalves(l, n)) {
                return false;
            }
        }
        return true;
    }

    /** Turns the fused 16-bit activations on or off (chosen at load; the bench times the other way). */
    public synchronized void useFusedHalves(boolean on) {
        if (fusedHalves != on) {
            fusedHalves = on;
            bufferGeneration++; // recorded graphs hold the other kernels
        }
    }

    /** Whether the norms and the SwiGLU reduction write the 16-bit activations (where the products read them). */
    public synchronized boolean fusedHalves() {
        return fusedHalves;
    }

    /** What {@link EpilogueKernelChoices#chooseFusedHalves} decided, and why. */
    public synchronized String fusedHalvesChoice() {
        return (fusedHalves ? "written by the norms and the SwiGLU reduction" : "separate to_half_padded launches") + ": "
                + epilogues.fusedHalvesChoice;
    }

    /** What {@link EpilogueKernelChoices#chooseFusedNorm} decided, and why. */
    public synchronized String fusedNormChoice() {
        return (fuseNorm ? "add_rmsnorm_splitk_vec" : "splitk_reduce + add_rmsnorm_vec") + ": " + epilogues.fusedNormChoice;
    }

    /** Turns the fused split-K reduction + norm off or on (the bench compares both). */
    public synchronized void useFusedNorm(boolean on) {
        if (fuseNorm != on) {
            fuseNorm = on;
            bufferGeneration++; // recorded graphs hold the other kernels
        }
    }

    /** Whether the fused split-K reduction + norm is on (it applies with the streaming product and vector norms). */
    public boolean fusedNorm() {
        return fuseNorm;
    }

    /**
     * Whether attention runs the split-context kernel (SplitAttention). Chosen at load by {@link EpilogueKernelChoices#chooseAttention};
     * turning it on for heads the kernel does not serve throws.
     */
    public synchronized void useSplitAttention(boolean on) {
        if (on && splitAttention == null) {
            throw new IllegalArgumentException("split attention does not serve this model: "
                    + SplitAttention.unsupported(config.nHeads(), config.nKvHeads(), config.headDim()));
        }
        if (useSplitAttention != on) {
            useSplitAttention = on;
            bufferGeneration++; // recorded graphs hold the other kernel
        }
    }

    /**
     * Whether steps with a run of {@link TiledAttention#MIN_RUN}+ tokens of one sequence (prefill chunks) run the
     * tiled attention kernel. Chosen at load by {@link EpilogueKernelChoices#chooseTiledAttention}; turning it
     * on for heads the kernel does not serve throws.
     */
    public synchronized void useTiledAttention(boolean on) {
        if (on && tiledAttention == null) {
            throw new IllegalArgumentException("tiled attention does not serve this model: "
                    + TiledAttention.unsupported(config.nHeads(), config.nKvHeads(), config.headDim()));
        }
        useTiledAttention = on; // the step's metadata says which kernel (StepShape.items): graphs need no new generation
    }

    /** Whether steps without a run of {@link TiledAttention#MIN_RUN} tokens (decode) run the tiled kernel too. */
    public synchronized void useTiledDecode(boolean on) {
        if (on && tiledAttention == null) {
            throw new IllegalArgumentException("tiled attention does not serve this model: "
                    + TiledAttention.unsupported(config.nHeads(), config.nKvHeads(), config.headDim()));
        }
        useTiledDecode = on;
    }

    /** Whether decode steps run the tiled attention kernel. */
    public synchronized boolean tiledDecode() {
        return useTiledDecode;
    }

    /** Steps so far that ran the tiled attention (tests: a prefill step took it). */
    public synchronized long tiledAttentionSteps() {
        return tiledSteps;
    }

    /** Whether prefill steps run the tiled attention kernel. */
    public synchronized boolean tiledAttention() {
        return useTiledAttention;
    }

    /** Whether the tiled attention kernel serves this model's heads. */
    public boolean tiledAttentionAvailable() {
        return tiledAttention != null;
    }

    /** Whether the split-context attention kernel serves this model's heads. */
    public boolean splitAttentionAvailable() {
        return splitAttention != null;
    }

    /** Whether attention runs the split-context kernel. */
    public synchronized boolean splitAttention() {
        return useSplitAttention;
    }

    /** Whether the norms run rmsnorm_vec / add_rmsnorm_vec; turning it on for a dim they do not fit throws. */
    public synchronized void useVectorNorm(boolean on) {
        if (on && !ForwardPass.vectorNormFits(config.dim())) {
            throw new IllegalArgumentException("dim " + config.dim() + " does not fit the vectorised norms "
                    + "(a multiple of 4, at most 4096)");
        }
        if (vectorNorm != on) {
            vectorNorm = on;
            bufferGeneration++; // recorded graphs hold the other kernels
        }
    }

    /** Whether the norms run the vectorised kernels. */
    public synchronized boolean vectorNorm() {
        return vectorNorm;
    }

    /** What {@link EpilogueKernelChoices#chooseAttention} decided for attention and the norms, with the timings and differences. */
    public synchronized String attentionChoice() {
        return epilogues.attentionChoice;
    }

    private void ensureCapacity(int n) {
        if (n <= buf.capacity) {
            return;
        }
        int c = Math.max(n, buf.capacity * 2);
        buf.allocate(c);
        if (moe != null) {
            moe.ensure(c);
        }
        if (splitAttention != null) {
            splitAttention.ensure(c);
        }
        if (skinny != null && (chosen.slicedPrefill || chosen.quant)) {
            skinny.sliceHalves(c, maxSliceCols());
        }
        if (skinny != null && chosen.quant) {
            skinny.blockSums(c, maxSliceCols());
        }
        bufferGeneration++;
    }

    /** Why the device can no longer run this model (its context lost to a sticky error), or empty. */
    @Override
    public Optional<String> unusable() {
        return device.lost();
    }

    /**
     * Frees the model's device memory. Not on a lost context, which refuses every free: its destruction, when the
     * device is closed, frees them all.
     */
    @Override
    public synchronized void close() {
        if (device.lost().isPresent()) {
            return;
        }
        device.makeCurrent();
        graphs.close();
        if (skinny != null) {
            skinny.close();
            skinny = null;
        }
        buf.close();
        if (moe != null) {
            moe.close();
        }
        if (splitAttention != null) {
            splitAttention.close();
        }
        w.close();
    }

    @Override
    public String toString() {
        return "CudaLlamaModel[" + config.architecture() + ", " + config.nLayers() + " layers, dim " + config.dim()
                + ", " + MemoryPlan.gib(weightBytes) + " of weights on " + device + "]";
    }
}

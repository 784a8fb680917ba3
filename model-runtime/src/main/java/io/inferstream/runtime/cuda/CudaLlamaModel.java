package io.inferstream.runtime.cuda;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;

import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.LlamaWeights;
import io.inferstream.runtime.model.LogitCandidates;
import io.inferstream.runtime.model.ModelConfig;
import io.inferstream.runtime.model.TokenBatch;
import io.inferstream.runtime.tensor.Matrix;

/**
 * The Llama-family decoder (llama, qwen2) resident on one CUDA device: the weights are uploaded once, the
 * paged KV cache is a {@link CudaKvStore}, and every step's forward pass runs in device kernels. Per step
 * only token ids, positions, sequence indices, KV slots, block tables and logit rows go to the device, and
 * the requested logits rows (or, with {@link #forwardGreedy}, one token id per row; with {@link #forwardCandidates},
 * the k best (logit, id) pairs and two floats per row) come back.
 *
 * <p>The GGUF is read by the CPU model's loader ({@link LlamaModel#load}), so configuration, tensor names and
 * shape checks are the same; the raw tensor bytes are then uploaded from the memory-mapped file.
 */
public final class CudaLlamaModel implements LanguageModel {

    /**
     * @param memoryFraction share of the device's free memory this model may use (weights, activations, KV)
     * @param f32ToBf16      store F32 matrices as BF16 (half the memory, tensor-core products)
     * @param maxBatchTokens tokens per step whose scratch buffers are reserved up front (larger batches grow them)
     */
    public record Options(double memoryFraction, boolean f32ToBf16, int maxBatchTokens) {
        public static Options defaults() {
            return new Options(0.9, false, 512);
        }
    }

    /** attention.cu: MAX_HEAD_DIM (8 floats of the output head per lane). */
    private static final int MAX_HEAD_DIM = 256;
    /** sampling.cu: TOPK_THREADS (threads per row of topk_rows). */
    static final int TOPK_THREADS = 1024;
    /** sampling.cu: ARGMAX_CHUNK = TOPK_CHUNK (logits per block of the two-stage argmax / top-k). */
    static final int HEAD_CHUNK = 4096;
    /** attention.cu: ATT_WARPS (warps per (token, head) block of attention_vec). */
    private static final int ATT_WARPS = 8;

    private final CudaDevice device;
    private final CudaKernels k;
    private final ModelConfig config;
    private MemoryPlan plan; // the weights' bytes grow by the packed copies when those are adopted
    private final int qDim;
    private final List<AutoCloseable> owned = new ArrayList<>();

    // Weights, per layer where indexed.
    private final DeviceMatrix embedding;
    private final DeviceMatrix output;
    private final DeviceMatrix[] wq;
    private final DeviceMatrix[] wk;
    private final DeviceMatrix[] wv;
    private final DeviceMatrix[] wo;
    private final DeviceMatrix[] gate;
    private final DeviceMatrix[] up;
    private final DeviceMatrix[] down;
    private final DeviceBuffer[] attnNorm;
    private final DeviceBuffer[] ffnNorm;
    private final DeviceBuffer[] bq;
    private final DeviceBuffer[] bk;
    private final DeviceBuffer[] bv;
    private final DeviceBuffer outputNorm;
    private final DeviceBuffer invFreq;
    private final long weightBytes;

    // Scratch for `capacity` tokens.
    private int capacity;
    private DeviceBuffer x;      // [n, dim] residual stream
    private DeviceBuffer xb;     // [n, dim]
    private DeviceBuffer q;      // [n, qDim]
    private DeviceBuffer kBuf;   // [n, kvDim]
    private DeviceBuffer vBuf;   // [n, kvDim]
    private DeviceBuffer att;    // [n, qDim]
    private DeviceBuffer hb;     // [n, hidden]
    private DeviceBuffer hb2;    // [n, hidden]
    private DeviceBuffer logits; // [n, vocab]
    private DeviceBuffer ints;   // step metadata, see forwardOnDevice
    private DeviceBuffer candidates; // [n, 2 * MAX_K + 2]: topk_rows' logits [m, k] | ids [m, k] | (max, sum exp) [m, 2]
    private DeviceBuffer headScratch; // two-stage argmax / top-k over long rows: per row and chunk, k (logit, id) + 2 stats
    private int intsCapacity;
    private StepProfile profile; // null unless a benchmark asks where the time goes
    private long steps;          // steps prepared so far: a LogitCandidates' full rows are valid until the next one
    private int bufferGeneration; // bumped whenever scratch or metadata buffers move (recorded graphs then go stale)

    private SkinnyScratch skinny; // non-null while the skinny decode product is on (the default for 16-bit weights)
    // matmul_skinny_smem or matmul_skinny_pipe instead of matmul_skinny: chosen at load (chooseSkinnyKernel) unless
    // -Dinferstream.cuda.skinny=smem, =pipe or =plain forces one
    private boolean stagedSkinny;
    private boolean pipelinedSkinny; // matmul_skinny_pipe, chosen at load like stagedSkinny
    // matmul_stream (stream.cu, its own split policy; takes precedence over the other two), chosen at load like them
    // (-Dinferstream.cuda.skinny=stream or =streamwide forces it)
    private boolean streamingSkinny;
    private boolean wideStream; // with streamingSkinny: matmul_stream_wide (16-warp blocks), chosen at load
    // Q/K/V and gate/up (with SwiGLU) of decode steps of 9..64 tokens as grouped skinny products: chosen at load
    // (chooseGroupedSkinny) unless -Dinferstream.cuda.skinnyGroup=on|off forces it
    private boolean groupedSkinny;
    // The deep split-K policy (SkinnyScratch.deepSplit: more blocks for under-filled matrices): chosen at load (chooseDeepSplit)
    // unless -Dinferstream.cuda.skinnySplit=deep|default forces it
    private boolean deepSplit;
    // matmul_stream for decode steps of 1..8 tokens as well (single matrices; Q/K/V keep matvec3): chosen at load
    private boolean smallStream;
    private String smallStreamChoice = "matvec for 1..8 tokens (not compared)";
    // The streaming products read copies of the weights packed in their load order (see choosePackedStream)
    private boolean packedStream;
    private String packedStreamChoice = "not compared";
    private long packedBytes; // device bytes of the packed copies
    // With packed weights: the _tall_packed kernels, 32 rows per warp (see chooseTallStream)
    private boolean tallStream;
    private String tallStreamChoice = "not compared";
    private int tallMinBlocks; // products with fewer blocks keep the 16-row kernel (7/8 of the SMs; see SkinnyScratch)
    // Products of more than 64 tokens as 64-token slices of matmul_stream_slices (see chooseSlicedPrefill)
    private boolean slicedPrefill;
    private String slicedPrefillChoice = "not compared";
    private String skinnyChoice = "skinny product off";

    // Split-context attention (attention_split_*: one block per token, KV head and context split, all query heads of
    // the group at once); null when the heads do not fit it. On when chosen at load (chooseAttention) or forced by
    // -Dinferstream.cuda.attention=split|old.
    private final SplitAttention splitAttention;
    private boolean useSplitAttention;
    // rmsnorm_vec / add_rmsnorm_vec (float4, the row held in registers) instead of rmsnorm / add_rmsnorm: chosen at
    // load with the attention (-Dinferstream.cuda.norm=vec|old forces it)
    private boolean vectorNorm;
    // Off by default: run 6 measured the c = 64 graph step at 2.28 ms without it and 2.36 ms with it (the fused
    // kernel reads every split of a row from one block: 64 blocks instead of splitk_reduce's 512)
    private boolean fuseNorm; // chosen at load (chooseFusedNorm)
    private String fusedNormChoice = "not compared";
    // The norms and the SwiGLU reduction write the streaming products' 16-bit activations (see chooseFusedHalves)
    private boolean fusedHalves;
    private String fusedHalvesChoice = "separate conversions (not compared)";
    // Bytes of each layer's Wo and gate/up weights prefetched into L2 before its attention, 0 = none (chooseL2Prefetch)
    private long l2Prefetch;
    private String l2PrefetchChoice = "not compared";
    // The grouped Q/K/V product's reduction, biases, RoPE and KV write in one launch (see chooseFusedRope)
    private boolean fusedRope;
    private String fusedRopeChoice = "not compared";
    private String attentionChoice = "attention_vec (not compared)";

    // Greedy steps replayed as CUDA graphs (on by default): one graph per step shape, captured on its first use.
    private boolean graphs = true;
    private String graphFailure;
    private long graphLaunches;
    private CUstream graphStream;
    private final Map<GraphKey, CUgraphExec> graphCache = new HashMap<>();

    /**
     * What a recorded step depends on: the shape of the metadata, the KV pools, the scratch buffers, and its head
     * (0: argmax_rows; k: topk_rows with k candidates).
     */
    private record GraphKey(int n, int m, int maxBlocks, KvStore kv, int generation, int head) {
    }

    /** The shape of a prepared step: {@code maxBlocks} is the stride of the uploaded block tables. */
    private record StepShape(int n, int m, int maxBlocks) {
    }

    private CudaLlamaModel(CudaDevice device, GgufFile gguf, LlamaModel cpu, Options options) {
        this.device = device;
        this.k = device.kernels();
        this.config = cpu.config();
        this.qDim = config.nHeads() * config.headDim();
        if (config.nHeads() % config.nKvHeads() != 0) {
            throw new IllegalArgumentException("head_count " + config.nHeads() + " is not a multiple of head_count_kv "
                    + config.nKvHeads());
        }
        if (config.headDim() > MAX_HEAD_DIM || config.headDim() % 2 != 0) {
            throw new IllegalArgumentException("heads of " + config.headDim() + " dimensions: the CUDA attention kernel "
                    + "supports even head sizes up to " + MAX_HEAD_DIM);
        }
        LlamaWeights w = cpu.weights();
        boolean bf16 = options.f32ToBf16();
        long bytes = 0;
        List<Matrix> all = new ArrayList<>();
        all.add(w.tokenEmbedding());
        if (w.output() != w.tokenEmbedding()) {
            all.add(w.output());
        }
        for (int l = 0; l < config.nLayers(); l++) {
            all.addAll(List.of(w.wq()[l], w.wk()[l], w.wv()[l], w.wo()[l], w.gate()[l], w.up()[l], w.down()[l]));
        }
        for (Matrix m : all) {
            bytes += DeviceMatrix.deviceBytes(m.type(), bf16, m.rows(), m.cols());
        }
        bytes += 4L * config.dim() * (2L * config.nLayers() + 1);
        if (w.bq() != null) {
            bytes += 4L * config.nLayers() * (qDim + 2L * config.kvDim());
        }
        long[] mem = device.memoryInfo();
        this.plan = new MemoryPlan(mem[0], options.memoryFraction(), bytes,
                MemoryPlan.activationBytes(config, options.maxBatchTokens()));
        plan.requireFits(gguf.path().toString(), device.toString());

        Map<Matrix, DeviceMatrix> uploaded = new IdentityHashMap<>();
        try {
            for (Matrix m : all) {
                uploaded.put(m, track(DeviceMatrix.upload(m, rawBytes(gguf, m), bf16)));
            }
            embedding = uploaded.get(w.tokenEmbedding());
            output = uploaded.get(w.output());
            int layers = config.nLayers();
            wq = new DeviceMatrix[layers];
            wk = new DeviceMatrix[layers];
            wv = new DeviceMatrix[layers];
            wo = new DeviceMatrix[layers];
            gate = new DeviceMatrix[layers];
            up = new DeviceMatrix[layers];
            down = new DeviceMatrix[layers];
            attnNorm = new DeviceBuffer[layers];
            ffnNorm = new DeviceBuffer[layers];
            boolean biases = w.bq() != null;
            bq = biases ? new DeviceBuffer[layers] : null;
            bk = biases ? new DeviceBuffer[layers] : null;
            bv = biases ? new DeviceBuffer[layers] : null;
            for (int l = 0; l < layers; l++) {
                wq[l] = uploaded.get(w.wq()[l]);
                wk[l] = uploaded.get(w.wk()[l]);
                wv[l] = uploaded.get(w.wv()[l]);
                wo[l] = uploaded.get(w.wo()[l]);
                gate[l] = uploaded.get(w.gate()[l]);
                up[l] = uploaded.get(w.up()[l]);
                down[l] = uploaded.get(w.down()[l]);
                attnNorm[l] = floats(w.attnNorm()[l], "attn_norm " + l);
                ffnNorm[l] = floats(w.ffnNorm()[l], "ffn_norm " + l);
                if (biases) {
                    bq[l] = floats(w.bq()[l], "attn_q.bias " + l);
                    bk[l] = floats(w.bk()[l], "attn_k.bias " + l);
                    bv[l] = floats(w.bv()[l], "attn_v.bias " + l);
                }
            }
            outputNorm = floats(w.outputNorm(), "output_norm");
            invFreq = floats(RopeFrequencies.of(config, w.ropeFactors()), "rope frequencies");
            weightBytes = bytes;
            splitAttention = SplitAttention.unsupported(config.nHeads(), config.nKvHeads(), config.headDim()) == null
                    ? new SplitAttention(config.nHeads(), config.nKvHeads(), config.headDim()) : null;
            ensureCapacity(options.maxBatchTokens());
            tallMinBlocks = SkinnyScratch.tallMinBlocks(device.multiprocessors());
            boolean sixteenBit = false;
            for (DeviceMatrix m : allMatrices()) {
                sixteenBit |= m.type() == GgmlType.BF16
                        || m.type() == GgmlType.F16;
            }
            useSkinnyDecode(sixteenBit);
            // Each choice that throws (a launch the driver refuses, memory it cannot get) leaves the proven way on and
            // says why in kernelChoices(), rather than failing the load: much of this was written without a GPU.
            if (sixteenBit) {
                choose(this::chooseSkinnyKernel, () -> {
                    useStreamingSkinny(false);
                    useWideStream(false);
                    usePipelinedSkinny(false);
                    useStagedSkinny(false);
                }, why -> skinnyChoice = "matmul_skinny: " + why);
                choose(this::chooseGroupedSkinny, () -> useGroupedSkinny(false),
                        why -> skinnyChoice += "; grouped products off: " + why);
                choose(this::chooseDeepSplit, () -> useDeepSplit(false), why -> skinnyChoice += "; split-K default: " + why);
                choose(this::choosePackedStream, () -> usePackedStream(false), why -> packedStreamChoice = why);
                choose(this::chooseTallStream, () -> useTallStream(false), why -> tallStreamChoice = why);
                choose(this::chooseSlicedPrefill, () -> useSlicedPrefill(false), why -> slicedPrefillChoice = why);
                choose(this::chooseSmallStream, () -> useSmallStream(false), why -> smallStreamChoice = why);
            }
            choose(this::chooseAttention, () -> {
                useSplitAttention(false);
                useVectorNorm(false);
            }, why -> attentionChoice = why);
            if (sixteenBit) { // after chooseAttention: they need its kernels
                choose(this::chooseFusedHalves, () -> useFusedHalves(false), why -> fusedHalvesChoice = why);
                choose(this::chooseFusedRope, () -> useFusedRope(false), why -> fusedRopeChoice = why);
                choose(this::chooseFusedNorm, () -> useFusedNorm(false), why -> fusedNormChoice = why);
                choose(this::chooseL2Prefetch, () -> useL2Prefetch(0), why -> l2PrefetchChoice = why);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
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

    /** Runs a load-time choice; where it throws, puts the proven way back and hands the reason to {@code why}. */
    private static void choose(Runnable choice, Runnable provenWay, java.util.function.Consumer<String> why) {
        try {
            choice.run();
        } catch (RuntimeException e) {
            provenWay.run();
            why.accept("failed at load, the proven way kept: " + e);
        }
    }

    /** Loads a GGUF llama / qwen2 model onto {@code device}. */
    public static CudaLlamaModel load(GgufFile gguf, CudaDevice device, Options options) {
        device.makeCurrent();
        return new CudaLlamaModel(device, gguf, LlamaModel.load(gguf), options);
    }

    private static ByteBuffer rawBytes(GgufFile gguf, Matrix m) {
        if (!gguf.hasTensor(m.name())) {
            throw new IllegalStateException(gguf.path() + ": tensor " + m.name() + " of the loaded model is not in the file");
        }
        return gguf.tensorData(m.name());
    }

    private DeviceMatrix track(DeviceMatrix m) {
        owned.add(m);
        return m;
    }

    private DeviceBuffer floats(float[] v, String what) {
        DeviceBuffer b = DeviceBuffer.allocate(4L * v.length, what);
        owned.add(b);
        b.upload(v, v.length);
        return b;
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
     * Weight bytes a decode step reads: every layer matrix and the output matrix once (the embedding is only
     * gathered, unless it is also the output); norms and biases are negligible and left out.
     */
    public long bytesReadPerDecodeStep() {
        long b = output.bytes();
        for (int l = 0; l < config.nLayers(); l++) {
            b += wq[l].bytes() + wk[l].bytes() + wv[l].bytes() + wo[l].bytes() + gate[l].bytes() + up[l].bytes()
                    + down[l].bytes();
        }
        return b;
    }

    /** Profiles the following steps part by part (null to stop); synchronizes after every part. */
    public synchronized void profile(StepProfile p) {
        this.profile = p;
    }

    /** Weight bytes each {@link StepProfile.Part} reads per step (for its bandwidth column). */
    public long[] bytesPerPart() {
        long[] b = new long[StepProfile.Part.values().length];
        for (int l = 0; l < config.nLayers(); l++) {
            b[StepProfile.Part.QKV_MATMUL.ordinal()] += wq[l].bytes() + wk[l].bytes() + wv[l].bytes();
            b[StepProfile.Part.WO_MATMUL.ordinal()] += wo[l].bytes();
            b[StepProfile.Part.FFN_MATMUL.ordinal()] += gate[l].bytes() + up[l].bytes() + down[l].bytes();
        }
        b[StepProfile.Part.OUTPUT_MATMUL.ordinal()] = output.bytes();
        return b;
    }

    private void mark(StepProfile.Part part) {
        if (profile != null) {
            profile.mark(part);
        }
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
        logits.download(out, out.length);
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
        if (graphs && profile == null) {
            replay(shape, (CudaKvStore) kv, 0);
        } else {
            launchStepWithHead(shape, (CudaKvStore) kv, 0);
        }
        int[] out = new int[m];
        ints.download(out, m); // the default stream waits for the graph's (blocking) stream
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
        if (graphs && profile == null && shape.n() == shape.m()) {
            replay(shape, (CudaKvStore) kv, kk);
        } else {
            launchStepWithHead(shape, (CudaKvStore) kv, kk);
        }
        int pairs = m * kk;
        int[] raw = new int[2 * pairs + 2 * m]; // logits (float bits) [m, k] | ids [m, k] | (max, sum) [m, 2]
        candidates.download(raw, raw.length);
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
        logits.download(row, (long) r * config.vocabSize(), row.length);
        return row;
    }

    /** The step's kernels, then its head on the logits: argmax_rows into ints (head 0) or topk_rows of k = head. */
    private void launchStepWithHead(StepShape shape, CudaKvStore kv, int head) {
        launchStep(shape, kv, true);
        int vocab = config.vocabSize();
        int chunks = headChunks(vocab);
        if (head == 0 && chunks == 0) {
            k.launch("argmax_rows", shape.m(), 1, 256, 0, logits, vocab, ints);
        } else if (head == 0) {
            // stage one: (max, index) per row and chunk of 4096 logits; stage two: one warp per row merges them
            long parts = (long) shape.m() * chunks;
            k.launch("argmax_chunks", shape.m(), chunks, 256, 0, logits, vocab, headScratch, headScratch.at(4 * parts));
            k.launch("argmax_merge", shape.m(), 1, 32, 0, headScratch, headScratch.at(4 * parts), chunks, ints);
        } else {
            launchTopK(shape.m(), head);
        }
    }

    /**
     * Chunks of sampling.cu's two-stage argmax / top-k for rows of {@code vocab} logits, or 0 where one block per row
     * (argmax_rows, topk_rows) serves: long rows give one block per row too little of the GPU (run 5 on an H200: 193 us
     * for the argmax and 415 us for the top-256 of 64 rows of 128256 logits).
     */
    static int headChunks(int vocab) {
        return vocab > 2 * HEAD_CHUNK ? (vocab + HEAD_CHUNK - 1) / HEAD_CHUNK : 0;
    }

    /**
     * topk_rows (or for long rows topk_chunks + topk_merge, and top1_chunks + top1_merge when k = 1) over the first m
     * rows of the logits into the candidates.
     */
    private void launchTopK(int m, int kk) {
        long pairs = (long) m * kk;
        int vocab = config.vocabSize();
        int chunks = headChunks(vocab);
        if (chunks == 0) {
            k.launch("topk_rows", m, 1, TOPK_THREADS, 0, logits, vocab, kk, candidates, candidates.at(4 * pairs),
                    candidates.at(8 * pairs));
            return;
        }
        if (kk == 1) { // the engine's greedy steps: the first candidate with one pass per chunk (top1_chunks)
            long parts = (long) m * chunks;
            k.launch("top1_chunks", m, chunks, 256, 0, logits, vocab, headScratch, headScratch.at(8 * parts));
            k.launch("top1_merge", m, 1, 32, 0, logits, headScratch, headScratch.at(8 * parts), vocab, chunks, candidates,
                    candidates.at(4 * pairs), candidates.at(8 * pairs));
            return;
        }
        long perRow = (long) (chunks - 1) * kk + Math.min(kk, vocab - (chunks - 1) * HEAD_CHUNK);
        long cand = m * perRow;
        k.launch("topk_chunks", m, chunks, 256, 0, logits, vocab, kk, headScratch, headScratch.at(4 * cand),
                headScratch.at(8 * cand));
        k.launch("topk_merge", m, 1, TOPK_THREADS, 0, headScratch, headScratch.at(4 * cand), headScratch.at(8 * cand),
                vocab, chunks, kk, candidates, candidates.at(4 * pairs), candidates.at(8 * pairs));
    }

    /**
     * Greedy steps as CUDA graphs: the ~10 launches per layer of a step are recorded once per step shape
     * and replayed with one launch (the metadata is uploaded before each replay into the same buffer).
     * On by default (the first H200 run showed replays token-identical to eager steps); if recording fails,
     * the model says why ({@link #graphFailure()}) and runs eagerly.
     */
    public synchronized void useCudaGraphs(boolean on) {
        graphs = on;
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
            for (DeviceMatrix m : allMatrices()) {
                maxCols = Math.max(maxCols, m.cols());
                maxPartial = Math.max(maxPartial, SkinnyScratch.partialFloats(m.rows(), m.cols()));
            }
            for (int l = 0; l < config.nLayers(); l++) { // grouped products keep all their partial sums at once
                maxPartial = Math.max(maxPartial, DeviceMatrix.groupPartialFloats(wq[l], wk[l], wv[l]));
                maxPartial = Math.max(maxPartial, DeviceMatrix.groupPartialFloats(gate[l], up[l]));
            }
            skinny = new SkinnyScratch(maxCols, maxPartial);
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
    private void syncSkinny() {
        if (skinny == null) {
            return;
        }
        SkinnyScratch s = skinny;
        boolean changed = s.staged != stagedSkinny || s.pipelined != pipelinedSkinny || s.streaming != streamingSkinny
                || s.streamWide != wideStream || s.deepSplit != deepSplit || s.small != smallStream
                || s.packed != packedStream || s.streamTall != tallStream || s.tallMinBlocks != tallMinBlocks
                || s.slicedPrefill != slicedPrefill;
        s.staged = stagedSkinny;
        s.pipelined = pipelinedSkinny;
        s.streaming = streamingSkinny;
        s.streamWide = wideStream;
        s.deepSplit = deepSplit;
        s.small = smallStream;
        s.packed = packedStream;
        s.streamTall = tallStream;
        s.tallMinBlocks = tallMinBlocks;
        s.slicedPrefill = slicedPrefill;
        if (slicedPrefill) {
            s.sliceHalves(capacity, maxSliceCols());
        }
        if (changed) {
            bufferGeneration++; // recorded graphs name the other kernels, grids and buffers
        }
    }

    /**
     * Whether the skinny product stages the activations through shared memory (matmul_skinny_smem: one L2 read
     * of each K tile per 4 warps instead of one per warp). Chosen at load by {@link #chooseSkinnyKernel}.
     */
    public synchronized void useStagedSkinny(boolean on) {
        stagedSkinny = on;
        syncSkinny();
    }

    /** Whether the skinny product stages its activations through shared memory. */
    public synchronized boolean stagedSkinny() {
        return stagedSkinny;
    }

    /** What each load-time kernel choice decided and why, in the order the model makes them (the bench prints them). */
    public synchronized Map<String, String> kernelChoices() {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("skinny kernel", skinnyChoice());
        m.put("attention and norm kernels", attentionChoice());
        m.put("weight layout of the streaming products", packedStreamChoice());
        m.put("rows per warp of the streaming products on packed weights", tallStreamChoice());
        m.put("products of more than 64 tokens (prefill)", slicedPrefillChoice());
        m.put("steps of 1..8 tokens", smallStreamChoice());
        m.put("16-bit activations of the streaming products", fusedHalvesChoice());
        m.put("Q/K/V reduction, RoPE and KV write", fusedRopeChoice());
        m.put("Wo and down split-K reduction", fusedNormChoice());
        m.put("L2 prefetch of Wo and gate/up during the attention", l2PrefetchChoice());
        return m;
    }

    /** Which skinny kernel the model chose at load, and why (timings of both). */
    public String skinnyChoice() {
        return skinnyChoice;
    }

    /**
     * Picks the skinny kernel: each candidate (matmul_skinny_smem, matmul_skinny_pipe, matmul_stream with 8- or
     * 16-warp blocks) runs a 64-token
     * product of the first FFN matrix next to the proven matmul_skinny, each timed as {@code CHOICE_REPS} CUDA graph
     * replays of its launches (conversion, product, reduction: as decode steps run them; eager launches would time
     * the host). matmul_skinny_smem and matmul_skinny_pipe perform the same tensor-core steps in the same K order, so
     * they are eligible only when bit for bit equal. matmul_stream adds in another order (8-token mma tiles, its own
     * split-K), so it is eligible when within 1e-4 of matmul_skinny (max abs difference over max abs value; a wrong
     * kernel is off by order 1) on this product AND on every distinct layer-0 and output-head shape at 64 and 13
     * tokens (it serves them all). The fastest eligible kernel is adopted; a wrong or slower one is never used.
     * -Dinferstream.cuda.skinny=plain|smem|pipe|stream|streamwide forces one.
     */
    private void chooseSkinnyKernel() {
        String forced = System.getProperty("inferstream.cuda.skinny");
        if (forced != null) {
            useStreamingSkinny("stream".equals(forced) || "streamwide".equals(forced));
            useWideStream("streamwide".equals(forced));
            useStagedSkinny("smem".equals(forced));
            usePipelinedSkinny("pipe".equals(forced));
            skinnyChoice = skinnyKernelName() + " (forced by -Dinferstream.cuda.skinny=" + forced + ")";
            return;
        }
        DeviceMatrix m = gate[0];
        int n = Math.min(SkinnyScratch.MAX_TOKENS, capacity);
        if (n <= DeviceMatrix.MATVEC_MAX_TOKENS || !SkinnyScratch.fits(m.rows(), m.cols())
                || (m.type() != GgmlType.BF16 && m.type() != GgmlType.F16)) {
            skinnyChoice = "matmul_skinny (" + m + " does not take the skinny product; not compared)";
            return;
        }
        // x [n, cols] in xb, y [n, rows] in hb: fits the scratch for `capacity` tokens
        float[] xs = new float[n * m.cols()];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rnd.nextDouble(-1, 1);
        }
        xb.upload(xs, xs.length);
        String[] names = {"matmul_skinny", "matmul_skinny_smem", "matmul_skinny_pipe", "matmul_stream", "matmul_stream_wide"};
        long[] nanos = new long[names.length];
        boolean[] eligible = new boolean[names.length];
        double[] difference = new double[names.length];
        String[] timing = new String[names.length];
        float[] proven = null;
        java.util.function.IntConsumer product = v -> {
            skinny.staged = v == 1;
            skinny.pipelined = v == 2;
            skinny.streaming = v >= 3;
            skinny.streamWide = v == 4;
            m.skinny(k, xb, hb, n, skinny);
        };
        for (int v = 0; v < names.length; v++) {
            product.accept(v); // eager: the result compared below
            device.synchronize();
            float[] got = new float[n * m.rows()];
            hb.download(got, got.length);
            if (v == 0) {
                proven = got;
            }
            difference[v] = relativeDifference(got, proven);
            eligible[v] = v >= 3 ? difference[v] <= 1e-4 : java.util.Arrays.equals(proven, got);
            long t = graphNanos(product, v, CHOICE_REPS);
            timing[v] = "graph";
            if (t < 0) { // the driver refused to record: eager launches (timing the host as much as the GPU)
                timing[v] = "eager";
                product.accept(v);
                device.synchronize();
                long t0 = System.nanoTime();
                for (int i = 0; i < CHOICE_REPS; i++) {
                    product.accept(v);
                }
                device.synchronize();
                t = System.nanoTime() - t0;
            }
            nanos[v] = t;
        }
        String[] shapes = new String[names.length];
        for (int v = 3; v < names.length; v++) {
            if (eligible[v]) {
                shapes[v] = streamMismatch(new int[] {n, Math.min(13, n)}, v == 4);
                eligible[v] = shapes[v] == null;
            }
        }
        int best = 0;
        for (int v = 1; v < names.length; v++) {
            if (eligible[v] && nanos[v] < nanos[best]) {
                best = v;
            }
        }
        streamingSkinny = best >= 3;
        wideStream = best == 4;
        stagedSkinny = best == 1;
        pipelinedSkinny = best == 2;
        syncSkinny();
        bufferGeneration++;
        StringBuilder why = new StringBuilder(String.format(java.util.Locale.ROOT,
                "%s: %s %d x %d, %d tokens, per product (conversion + product + reduction, %d CUDA graph replays):",
                names[best], m.type(), m.rows(), m.cols(), n, CHOICE_REPS));
        for (int v = 0; v < names.length; v++) {
            double us = nanos[v] / 1e3 / CHOICE_REPS;
            why.append(String.format(java.util.Locale.ROOT, " %s %.1f us = %.0f GB/s of weights%s%s", names[v], us,
                    m.bytes() / (us * 1e3), timing[v].equals("graph") ? "" : " (eager)",
                    v == 0 ? "" : v < 3 ? (eligible[v] ? " (bitwise equal)" : " (DIFFERS: not used)")
                            : String.format(java.util.Locale.ROOT, " (max relative difference %.2e%s)", difference[v],
                                    difference[v] > 1e-4 ? ": DIFFERS, not used"
                                            : shapes[v] != null ? "; DIFFERS on " + shapes[v] + ": not used" : " on every shape")));
            why.append(v + 1 < names.length ? "," : "");
        }
        skinnyChoice = why.toString();
    }

    /**
     * Where a decode step's weight reads go: each product of a step (layer 0's Q/K/V, Wo, gate/up with SwiGLU and
     * down, and the output head) for each token count, launched exactly as {@link #launchStep} launches it (the
     * chosen kernels, grouped or not), timed as {@code reps} CUDA graph replays (eager where recording fails). A
     * markdown table: microseconds per product and weight GB/s (weight bytes / time). Token counts above the scratch
     * capacity are left out. Overwrites the activation scratch buffers (not the KV cache).
     */
    public synchronized String productBenchmark(int[] tokenCounts, int reps) {
        device.makeCurrent();
        String[] names = {"Q/K/V", "Wo", "gate/up + SwiGLU", "down", "output head"};
        String[] shapes = {
            (wq[0].rows() + wk[0].rows() + wv[0].rows()) + " x " + wq[0].cols(),
            wo[0].rows() + " x " + wo[0].cols(),
            "2 x " + gate[0].rows() + " x " + gate[0].cols(),
            down[0].rows() + " x " + down[0].cols(),
            output.rows() + " x " + output.cols()};
        long[] bytes = {wq[0].bytes() + wk[0].bytes() + wv[0].bytes(), wo[0].bytes(), gate[0].bytes() + up[0].bytes(),
            down[0].bytes(), output.bytes()};
        StringBuilder table = new StringBuilder("| product | rows x cols | weight MB |");
        StringBuilder rule = new StringBuilder("|---|---|---:|");
        List<Integer> ns = new ArrayList<>();
        for (int n : tokenCounts) {
            if (n >= 1 && n <= capacity) {
                ns.add(n);
                table.append(" n=").append(n).append(" us | n=").append(n).append(" GB/s | n=").append(n).append(" kernel |");
                rule.append("---:|---:|---|");
            }
        }
        table.append('\n').append(rule).append('\n');
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(19);
        int maxN = 0;
        for (int n : ns) {
            maxN = Math.max(maxN, n);
        }
        for (DeviceBuffer b : new DeviceBuffer[] {xb, att, hb}) { // the products' inputs
            int len = (int) Math.min(b.bytes() / 4, (long) maxN * config.hiddenDim());
            float[] v = new float[len];
            for (int i = 0; i < len; i++) {
                v[i] = (float) rnd.nextDouble(-1, 1);
            }
            b.upload(v, len);
        }
        int hidden = config.hiddenDim();
        for (int p = 0; p < names.length; p++) {
            table.append("| ").append(names[p]).append(" | ").append(shapes[p]).append(String.format(java.util.Locale.ROOT,
                    " | %.1f |", bytes[p] / 1e6));
            for (int n : ns) {
                int product = p;
                boolean groupedQkv = skinny != null && groupedSkinny && DeviceMatrix.groupable(n, wq[0], wk[0], wv[0]);
                boolean groupedFfn = skinny != null && groupedSkinny && DeviceMatrix.groupable(n, gate[0], up[0])
                        && gate[0].rows() == up[0].rows();
                java.util.function.IntConsumer launches = v -> {
                    switch (product) {
                        case 0 -> {
                            if (groupedQkv) {
                                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {wq[0], wk[0], wv[0]}, xb,
                                        new DeviceBuffer[] {q, kBuf, vBuf}, n, skinny, false);
                            } else {
                                DeviceMatrix.matmul3(k, wq[0], wk[0], wv[0], xb, q, kBuf, vBuf, n, skinny);
                            }
                        }
                        case 1 -> wo[0].matmul(k, att, x, n, skinny);
                        case 2 -> {
                            if (groupedFfn) {
                                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {gate[0], up[0]}, xb, new DeviceBuffer[] {hb2, null},
                                        n, skinny, true);
                            } else {
                                gate[0].matmul(k, xb, hb2, n, skinny);
                                up[0].matmul(k, xb, hb, n, skinny); // hb: down's input, any finite values do
                                k.launch("swiglu", blocks(n * hidden), 1, 256, 0, hb2, hb, n * hidden);
                            }
                        }
                        case 3 -> down[0].matmul(k, hb, x, n, skinny);
                        default -> output.matmul(k, xb, logits, n, skinny);
                    }
                };
                long t = graphNanos(launches, 0, reps);
                boolean eager = t < 0;
                if (eager) {
                    launches.accept(0);
                    device.synchronize();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < reps; i++) {
                        launches.accept(0);
                    }
                    device.synchronize();
                    t = System.nanoTime() - t0;
                }
                double us = t / 1e3 / reps;
                DeviceMatrix first = new DeviceMatrix[] {wq[0], wo[0], gate[0], down[0], output}[product];
                String kernel = n <= DeviceMatrix.MATVEC_MAX_TOKENS
                        ? (product == 0 ? "matvec3_vec" : smallStream && first.takesSkinny(SkinnyScratch.MAX_TOKENS) ? "matmul_stream" : "matvec")
                        : skinny == null || !first.takesSkinny(n) ? "wmma/tiled"
                        : skinnyKernelName() + ((product == 0 && groupedQkv) || (product == 2 && groupedFfn) ? " grouped" : "")
                                + (streamingSkinny && packedStream ? (tallStream ? ", packed, tall if filling" : ", packed") : "");
                table.append(String.format(java.util.Locale.ROOT, " %.1f | %.0f | %s%s |", us, bytes[p] / (us * 1e3), kernel,
                        eager ? " (eager)" : ""));
            }
            table.append('\n');
        }
        return table.toString();
    }

    /** CUDA graph replays per candidate in {@link #chooseSkinnyKernel}. */
    private static final int CHOICE_REPS = 20;

    /**
     * Runs matmul_stream and matmul_skinny (default split) on every distinct shape among layer 0's matrices and the
     * output head that takes the skinny product, for each token count, on random inputs; null when every result is
     * within 1e-4 (max abs difference over max abs value), else the first shape that is not, with its difference.
     */
    private String streamMismatch(int[] tokenCounts, boolean wide) {
        List<DeviceMatrix> shapes = new ArrayList<>();
        for (DeviceMatrix c : List.of(wq[0], wk[0], wv[0], wo[0], gate[0], up[0], down[0], output)) {
            boolean seen = false;
            for (DeviceMatrix d : shapes) {
                seen |= d.rows() == c.rows() && d.cols() == c.cols() && d.type() == c.type();
            }
            if (!seen && c.takesSkinny(SkinnyScratch.MAX_TOKENS) && SkinnyScratch.streamFits(c.rows(), c.cols())) {
                shapes.add(c);
            }
        }
        int maxN = 0;
        for (int n : tokenCounts) {
            maxN = Math.max(maxN, n);
        }
        long maxCols = 0;
        long maxRows = 0;
        for (DeviceMatrix d : shapes) {
            maxCols = Math.max(maxCols, d.cols());
            maxRows = Math.max(maxRows, d.rows());
        }
        boolean streaming = skinny.streaming;
        boolean streamingWide = skinny.streamWide;
        boolean staged = skinny.staged;
        boolean pipelined = skinny.pipelined;
        boolean deep = skinny.deepSplit;
        try (DeviceBuffer in = DeviceBuffer.allocate(4L * maxN * maxCols, "stream check x");
             DeviceBuffer out = DeviceBuffer.allocate(4L * maxN * maxRows, "stream check y")) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(17);
            float[] xs = new float[(int) (maxN * maxCols)];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = (float) rnd.nextDouble(-1, 1);
            }
            in.upload(xs, xs.length);
            for (DeviceMatrix d : shapes) {
                for (int n : tokenCounts) {
                    if (n <= DeviceMatrix.MATVEC_MAX_TOKENS) {
                        continue;
                    }
                    float[][] got = new float[2][n * d.rows()];
                    for (int v = 0; v < 2; v++) {
                        skinny.streaming = v == 1;
                        skinny.streamWide = wide;
                        skinny.staged = false;
                        skinny.pipelined = false;
                        skinny.deepSplit = false;
                        d.skinny(k, in, out, n, skinny);
                        device.synchronize();
                        out.download(got[v], got[v].length);
                    }
                    double diff = relativeDifference(got[1], got[0]);
                    if (!(diff <= 1e-4)) {
                        return String.format(java.util.Locale.ROOT, "%d x %d at %d tokens (%.2e)", d.rows(), d.cols(), n, diff);
                    }
                }
            }
            return null;
        } finally {
            skinny.streaming = streaming;
            skinny.streamWide = streamingWide;
            skinny.staged = staged;
            skinny.pipelined = pipelined;
            skinny.deepSplit = deep;
        }
    }

    /**
     * Decides whether decode steps of 9..64 tokens compute Q, K, V as one grouped skinny product and gate, up and
     * SwiGLU as another (matmul_skinny_group + splitk_reduce_group / splitk_reduce_swiglu: 6 launches instead of
     * 16). Layer 0's products of 64 random tokens run both ways; the grouped way is adopted only when all four
     * results (q, k, v, silu(gate) * up) are bit for bit those of the separate products and it is faster.
     */
    private void chooseGroupedSkinny() {
        String forced = onOff("inferstream.cuda.skinnyGroup");
        if (forced != null) {
            useGroupedSkinny("on".equals(forced));
            skinnyChoice += "; grouped Q/K/V and gate/up products " + (groupedSkinny ? "on" : "off")
                    + " (forced by -Dinferstream.cuda.skinnyGroup=" + forced + ")";
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, capacity);
        if (skinny == null || !DeviceMatrix.groupable(n, wq[0], wk[0], wv[0]) || !DeviceMatrix.groupable(n, gate[0], up[0])
                || gate[0].rows() != up[0].rows()) {
            skinnyChoice += "; grouped products off (layer 0 matrices do not take them; not compared)";
            return;
        }
        float[] xs = new float[n * config.dim()];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(11);
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rnd.nextDouble(-1, 1);
        }
        xb.upload(xs, xs.length);
        int hidden = config.hiddenDim();
        DeviceBuffer[] outs = {q, kBuf, vBuf, hb};
        int[] lengths = {n * wq[0].rows(), n * wk[0].rows(), n * wv[0].rows(), n * hidden};
        float[][][] got = new float[2][4][];
        long[] nanos = new long[2];
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < 6; i++) {
                if (i == 1) {
                    device.synchronize();
                    nanos[v] = System.nanoTime();
                }
                if (v == 0) {
                    DeviceMatrix.matmul3(k, wq[0], wk[0], wv[0], xb, q, kBuf, vBuf, n, skinny);
                    gate[0].matmul(k, xb, hb, n, skinny);
                    up[0].matmul(k, xb, hb2, n, skinny);
                    k.launch("swiglu", blocks(n * hidden), 1, 256, 0, hb, hb2, n * hidden);
                } else {
                    DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {wq[0], wk[0], wv[0]}, xb, new DeviceBuffer[] {q, kBuf, vBuf},
                            n, skinny, false);
                    DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {gate[0], up[0]}, xb, new DeviceBuffer[] {hb, null}, n,
                            skinny, true);
                }
            }
            device.synchronize();
            nanos[v] = System.nanoTime() - nanos[v];
            for (int o = 0; o < 4; o++) {
                got[v][o] = new float[lengths[o]];
                outs[o].download(got[v][o], lengths[o]);
            }
        }
        boolean same = true;
        for (int o = 0; o < 4; o++) {
            same &= java.util.Arrays.equals(got[0][o], got[1][o]);
        }
        useGroupedSkinny(same && nanos[1] < nanos[0]);
        skinnyChoice += String.format(java.util.Locale.ROOT,
                "; grouped Q/K/V and gate/up products %s (layer 0, %d tokens: separate %.1f us, grouped %.1f us, results %s)",
                groupedSkinny ? "on" : "off", n, nanos[0] / 5e3, nanos[1] / 5e3,
                same ? "bitwise equal" : "DIFFER: grouped products not used");
    }

    /** Whether decode steps of 9..64 tokens use the grouped Q/K/V and gate/up (SwiGLU) skinny products. */
    public synchronized void useGroupedSkinny(boolean on) {
        if (groupedSkinny != on) {
            groupedSkinny = on;
            bufferGeneration++; // recorded graphs hold the other launches
        }
    }

    /**
     * Decides the split-K depth of the skinny products (SkinnyScratch: default about 2048 warps and K ranges of at
     * least 256 columns; deep: matrices under 512 blocks split further, down to 128 columns, so Wq/Wo at
     * 2048 x 2048 run 512 blocks instead of 256). Layer 0's skinny products of 64 random tokens (Q/K/V, Wo, gate/up, down, grouped if the grouped way
     * is on) run both ways. The deep way sums in another order, so it cannot be bitwise equal: it is adopted only
     * when every result is within 1e-4 of the default one (max abs difference over max abs value; a wrong split
     * gives errors of order 1) and the products are faster.
     */
    private void chooseDeepSplit() {
        String forced = System.getProperty("inferstream.cuda.skinnySplit");
        if (forced != null) {
            useDeepSplit("deep".equals(forced));
            skinnyChoice += "; split-K " + (deepSplit ? "deep" : "default")
                    + " (forced by -Dinferstream.cuda.skinnySplit=" + forced + ")";
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, capacity);
        if (skinny == null || !wo[0].takesSkinny(n) || !down[0].takesSkinny(n) || !gate[0].takesSkinny(n)
                || !up[0].takesSkinny(n) || !wq[0].takesSkinny(n) || !wk[0].takesSkinny(n) || !wv[0].takesSkinny(n)
                || config.vocabSize() < down[0].rows()) { // down's output goes to the logits buffer [n, vocab]
            skinnyChoice += "; split-K default (layer 0 matrices do not all take the skinny product; not compared)";
            return;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(13);
        float[] xs = new float[n * config.dim()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rnd.nextDouble(-1, 1);
        }
        float[] as = new float[n * wo[0].cols()];
        for (int i = 0; i < as.length; i++) {
            as[i] = (float) rnd.nextDouble(-1, 1);
        }
        int hidden = config.hiddenDim();
        float[] hs = new float[n * hidden];
        for (int i = 0; i < hs.length; i++) {
            hs[i] = (float) rnd.nextDouble(-1, 1);
        }
        // inputs xb, att, hb2 (random, uploaded once: no product writes them, so no difference of one product
        // feeds the next); outputs q, k, v, hb (silu(gate) * up, or gate), x (Wo of att), logits (down of hb2)
        xb.upload(xs, xs.length);
        att.upload(as, as.length);
        hb2.upload(hs, hs.length);
        DeviceBuffer[] outs = {q, kBuf, vBuf, hb, x, logits};
        int[] lengths = {n * wq[0].rows(), n * wk[0].rows(), n * wv[0].rows(), n * hidden, n * wo[0].rows(), n * down[0].rows()};
        float[][][] got = new float[2][outs.length][];
        long[] nanos = new long[2];
        boolean grouped = groupedSkinny && DeviceMatrix.groupable(n, wq[0], wk[0], wv[0])
                && DeviceMatrix.groupable(n, gate[0], up[0]) && gate[0].rows() == up[0].rows();
        java.util.function.IntConsumer products = v -> {
            skinny.deepSplit = v == 1;
            if (grouped) {
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {wq[0], wk[0], wv[0]}, xb, new DeviceBuffer[] {q, kBuf, vBuf},
                        n, skinny, false);
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {gate[0], up[0]}, xb, new DeviceBuffer[] {hb, null}, n,
                        skinny, true);
            } else {
                DeviceMatrix.matmul3(k, wq[0], wk[0], wv[0], xb, q, kBuf, vBuf, n, skinny);
                gate[0].matmul(k, xb, hb, n, skinny);
            }
            wo[0].matmul(k, att, x, n, skinny);
            down[0].matmul(k, hb2, logits, n, skinny);
        };
        int reps = 20;
        String timing = reps + " CUDA graph replays";
        for (int v = 0; v < 2; v++) {
            products.accept(v); // eager: the results compared below
            device.synchronize();
            for (int o = 0; o < outs.length; o++) {
                got[v][o] = new float[lengths[o]];
                outs[o].download(got[v][o], lengths[o]);
            }
        }
        // Timed as CUDA graphs (as decode steps run): eagerly, these ~12 launches at ~11 us of host time each
        // would take longer to issue than the GPU takes to run them, and the comparison would time the host.
        for (int v = 0; v < 2; v++) {
            long t = graphNanos(products, v, reps);
            if (t < 0) {
                timing = reps + " eager runs (graph recording failed)";
                products.accept(v);
                device.synchronize();
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    products.accept(v);
                }
                device.synchronize();
                t = System.nanoTime() - t0;
            }
            nanos[v] = t;
        }
        double worst = 0;
        for (int o = 0; o < outs.length; o++) {
            worst = Math.max(worst, relativeDifference(got[1][o], got[0][o]));
        }
        boolean close = worst <= 1e-4;
        skinny.deepSplit = false;
        useDeepSplit(close && nanos[1] < nanos[0]);
        bufferGeneration++;
        skinnyChoice += String.format(java.util.Locale.ROOT,
                "; split-K %s (layer 0 skinny products, %d tokens, %s: default %.1f us, deep %.1f us, max relative "
                        + "difference %.2e%s)", deepSplit ? "deep" : "default", n, timing, nanos[0] / 1e3 / reps, nanos[1] / 1e3 / reps, worst,
                close ? "" : ": DIFFER, deep split not used");
    }

    /**
     * Nanoseconds for {@code reps} replays of the launches of {@code launches.accept(v)} recorded as one CUDA graph
     * (after one untimed replay), or -1 when the driver refuses to record them.
     */
    private long graphNanos(java.util.function.IntConsumer launches, int v, int reps) {
        CUgraph graph = new CUgraph();
        CUgraphExec exec = null;
        boolean capturing = false;
        try {
            if (graphStream == null) {
                graphStream = new CUstream();
                cuStreamCreate(graphStream, 0);
            }
            k.stream(graphStream);
            cuStreamBeginCapture(graphStream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
            capturing = true;
            launches.accept(v);
            capturing = false;
            cuStreamEndCapture(graphStream, graph);
            CUgraphExec instantiated = new CUgraphExec();
            cuGraphInstantiate(instantiated, graph, 0);
            exec = instantiated;
            cuGraphDestroy(graph);
            cuGraphLaunch(exec, graphStream);
            device.synchronize();
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) {
                cuGraphLaunch(exec, graphStream);
            }
            device.synchronize();
            return System.nanoTime() - t0;
        } catch (RuntimeException e) {
            if (capturing) {
                try {
                    cuStreamEndCapture(graphStream, graph);
                } catch (RuntimeException ignored) {
                    // the capture is already invalid; ending it only resets the stream
                }
            }
            return -1;
        } finally {
            k.stream(null);
            if (exec != null) {
                cuGraphExecDestroy(exec);
            }
        }
    }

    /** Max |a - b| over max |b| (0 when b is all zero and a equals it); NaN anywhere gives infinity. */
    private static double relativeDifference(float[] a, float[] b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < b.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (Double.isNaN(d)) {
                return Double.POSITIVE_INFINITY;
            }
            diff = Math.max(diff, d);
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return diff == 0 ? 0 : scale == 0 ? Double.POSITIVE_INFINITY : diff / scale;
    }

    /** Whether the skinny products split under-filled matrices deeper (see SkinnyScratch). Chosen at load. */
    public synchronized void useDeepSplit(boolean on) {
        deepSplit = on;
        syncSkinny();
    }

    /** Whether the skinny products split K deep. */
    public synchronized boolean deepSplit() {
        return deepSplit;
    }

    /**
     * The streaming products read packed copies of the weights (DeviceMatrix.packForStream, stream.cu says why) or
     * the row-major ones. Turning it on packs every matrix the streaming product can take that has no copy yet
     * (the memory plan's weight bytes grow by them, so the KV pool sized after this is smaller); off frees them.
     */
    public synchronized void usePackedStream(boolean on) {
        device.makeCurrent();
        for (DeviceMatrix m : allMatrices()) {
            if (!on) {
                m.dropPacked();
            } else if (m.packable()) {
                packedBytes += m.packForStream(k);
            }
        }
        if (!on) {
            packedBytes = 0;
        }
        packedStream = on;
        syncSkinny();
        plan = new MemoryPlan(plan.deviceFree(), plan.fraction(), weightBytes + packedBytes, plan.activationBytes());
    }

    /** Whether the streaming products read packed weights. */
    public synchronized boolean packedStream() {
        return packedStream;
    }

    /** The weight layout the streaming products read, and the load-time comparison behind it. */
    public synchronized String packedStreamChoice() {
        return (packedStream ? String.format(java.util.Locale.ROOT, "packed (%.2f GiB of copies)", packedBytes / (double) (1L << 30))
                : "row-major") + ": " + packedStreamChoice;
    }

    /**
     * Decides whether the streaming products read packed copies of the weights. Row-major, a load instruction of
     * a warp reads 64 bytes from each of 8 rows and a warp keeps 16 row streams open; packed, it reads 512
     * contiguous bytes and each warp's K range is one stream (run 6 had the output head at 2.5 TB/s and gate/up at
     * 2.9 TB/s, 52-60 % of the H200's HBM). The lanes receive the same values, so the
     * results are bit for bit the same. Layer 0's products (Q/K/V, gate/up, Wo, down; grouped where that is on) and
     * the output head of 64 random tokens run both ways; packed is adopted only when every output is bitwise equal
     * and the products are faster as CUDA graphs, and only when the copies of all matrices (about the weights'
     * size again) take at most a quarter of the memory the KV pool would get. -Dinferstream.cuda.packedStream=on|off
     * forces it.
     */
    private void choosePackedStream() {
        String forced = onOff("inferstream.cuda.packedStream");
        if (forced != null) {
            usePackedStream(streamingSkinny && skinny != null && "on".equals(forced));
            packedStreamChoice = "forced by -Dinferstream.cuda.packedStream=" + forced;
            return;
        }
        if (!streamingSkinny || skinny == null) {
            packedStreamChoice = "matmul_stream is not the skinny kernel; not compared";
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, capacity);
        long need = 0;
        for (DeviceMatrix m : allMatrices()) {
            if (m.packable()) {
                need += DeviceMatrix.packedBytes(m.rows(), m.cols());
            }
        }
        if (need > plan.kvBytes() / 4) {
            packedStreamChoice = "the packed copies would take " + MemoryPlan.gib(need) + ", more than a quarter of the "
                    + MemoryPlan.gib(plan.kvBytes()) + " the KV pool gets; not compared";
            return;
        }
        List<DeviceMatrix> layer0 = List.of(wq[0], wk[0], wv[0], wo[0], gate[0], up[0], down[0], output);
        for (DeviceMatrix m : layer0) {
            if (!m.takesSkinny(n) || !m.packable()) {
                packedStreamChoice = m + " does not take the streaming product at " + n + " tokens; not compared";
                return;
            }
        }
        for (DeviceMatrix m : layer0) {
            m.packForStream(k);
        }
        ProductChain p = layerZeroProducts(n, 53, v -> skinny.packed = v == 1);
        BothWays r;
        try {
            r = bothWays(p.chain(), p.reset(), p.outs(), p.words());
        } finally {
            skinny.packed = packedStream;
        }
        usePackedStream(r.adopt()); // packs the other layers, or frees layer 0's copies
        bufferGeneration++;
        packedStreamChoice = "layer 0's products and the output head, " + n + " tokens" + (p.grouped() ? " (grouped)" : "")
                + ", " + r.outcome("row-major", "packed");
    }

    /** With packed weights: the streaming products run 8 warps of 32 rows per block (the _tall_packed kernels). */
    public synchronized void useTallStream(boolean on) {
        tallStream = on;
        syncSkinny();
    }

    /**
     * The fewest blocks a product's tall launch must have for it to run the tall kernel (default: 7/8 of the device's
     * SMs, one 256-row block each); smaller products keep 16-row warps. Tests set 1 to run the tall kernel on small models.
     */
    public synchronized void tallStreamMinBlocks(int blocks) {
        tallMinBlocks = blocks;
        syncSkinny();
    }

    /** Whether the streaming products on packed weights run 32 rows per warp. */
    public synchronized boolean tallStream() {
        return tallStream;
    }

    /** Rows per warp of the streaming products on packed weights, and the load-time comparison behind it. */
    public synchronized String tallStreamChoice() {
        return (tallStream ? "32 rows per warp (matmul_stream_tall_packed) for products of at least " + tallMinBlocks
                + " such blocks" : "16 rows per warp") + ": " + tallStreamChoice;
    }

    /** Widest input of a product: the columns the sliced products' 16-bit activations need. */
    private int maxSliceCols() {
        return Math.max(Math.max(config.dim(), config.hiddenDim()), qDim);
    }

    /** Products of more than 64 tokens as matmul_stream_slices (on) or the tiled WMMA kernel (off). */
    public synchronized void useSlicedPrefill(boolean on) {
        slicedPrefill = on;
        syncSkinny();
    }

    /** Whether products of more than 64 tokens run as 64-token slices of the streaming kernel. */
    public synchronized boolean slicedPrefill() {
        return slicedPrefill;
    }

    /** The kernel of products of more than 64 tokens, and the load-time comparison behind it. */
    public synchronized String slicedPrefillChoice() {
        return (slicedPrefill ? "matmul_stream_slices" : "matmul_wmma") + ": " + slicedPrefillChoice;
    }

    /**
     * Decides how prefill and mixed steps (more than 64 tokens) multiply: the tiled WMMA kernel (64 tokens x 32 rows
     * per block, weights and activations staged through shared memory two bytes at a time) or matmul_stream_slices,
     * the decode kernel over 64-token slices in one launch (each weight read once per slice, as the WMMA kernel reads it
     * once per 64-token block column, but in 16-byte pieces straight into tensor-core fragments; the packed copy where
     * there is one). Run 6: prefill at 5000 tok/s on an H200 for Llama-3.2-1B, about 13 TFLOPS, where the decode
     * kernel streams 64 tokens of every weight at 2-3 TB/s. Layer 0's Q/K/V, gate, Wo and down of
     * min(512, capacity) random tokens run both ways; the two add in different orders, so slices are adopted when
     * every output is within 1e-4 of the WMMA one (max abs difference over max abs value; a wrong kernel is off by
     * order 1) and faster as CUDA graphs. -Dinferstream.cuda.slicedPrefill=on|off forces it.
     */
    private void chooseSlicedPrefill() {
        String forced = onOff("inferstream.cuda.slicedPrefill");
        if (forced != null) {
            useSlicedPrefill(streamingSkinny && skinny != null && "on".equals(forced));
            slicedPrefillChoice = "forced by -Dinferstream.cuda.slicedPrefill=" + forced;
            return;
        }
        if (!streamingSkinny || skinny == null) {
            slicedPrefillChoice = "matmul_stream is not the skinny kernel; not compared";
            return;
        }
        int n = Math.min(512, capacity);
        if (n <= SkinnyScratch.MAX_TOKENS) {
            slicedPrefillChoice = "steps of at most " + capacity + " tokens never exceed 64; not compared";
            return;
        }
        for (DeviceMatrix m : List.of(wq[0], wk[0], wv[0], wo[0], gate[0], down[0])) {
            if (!m.packable()) { // 16-bit, cols a multiple of 8: what the sliced product takes too
                slicedPrefillChoice = m + " does not take the sliced product; not compared";
                return;
            }
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(61);
        float[] xs = new float[n * config.dim()];
        float[] as = new float[n * qDim];
        float[] hs = new float[n * config.hiddenDim()];
        for (float[] a : List.of(xs, as, hs)) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rnd.nextDouble(-1, 1);
            }
        }
        skinny.sliceHalves(capacity, maxSliceCols());
        // inputs xb, att, hb2; outputs q, k, v, hb (gate), x (Wo of att) and, last, xb (down of hb2)
        java.util.function.IntConsumer chain = v -> {
            skinny.slicedPrefill = v == 1;
            DeviceMatrix.matmul3(k, wq[0], wk[0], wv[0], xb, q, kBuf, vBuf, n, skinny);
            gate[0].matmul(k, xb, hb, n, skinny);
            wo[0].matmul(k, att, x, n, skinny);
            down[0].matmul(k, hb2, xb, n, skinny);
        };
        DeviceBuffer[] outs = {q, kBuf, vBuf, hb, x, xb};
        int[] lengths = {n * wq[0].rows(), n * wk[0].rows(), n * wv[0].rows(), n * gate[0].rows(), n * wo[0].rows(),
            n * down[0].rows()};
        double worst = 0;
        long[] nanos = new long[2];
        try {
            float[][][] got = new float[2][outs.length][];
            for (int v = 0; v < 2; v++) {
                xb.upload(xs, xs.length);
                att.upload(as, as.length);
                hb2.upload(hs, hs.length);
                chain.accept(v);
                device.synchronize();
                for (int o = 0; o < outs.length; o++) {
                    got[v][o] = new float[lengths[o]];
                    outs[o].download(got[v][o], lengths[o]);
                }
            }
            for (int o = 0; o < outs.length; o++) {
                worst = Math.max(worst, relativeDifference(got[1][o], got[0][o]));
            }
            for (int v = 0; v < 2; v++) {
                nanos[v] = graphNanos(chain, v, CHOICE_REPS);
            }
        } finally {
            skinny.slicedPrefill = slicedPrefill;
        }
        boolean close = worst <= 1e-4;
        boolean timed = nanos[0] > 0 && nanos[1] > 0;
        useSlicedPrefill(close && timed && nanos[1] < nanos[0]);
        bufferGeneration++;
        slicedPrefillChoice = String.format(java.util.Locale.ROOT,
                "layer 0's Q/K/V, gate, Wo and down of %d tokens, %d CUDA graph replays: matmul_wmma %.1f us, "
                        + "matmul_stream_slices %.1f us; max relative difference %.2e%s", n, CHOICE_REPS,
                nanos[0] / 1e3 / CHOICE_REPS, nanos[1] / 1e3 / CHOICE_REPS, worst,
                close ? (timed ? "" : "; graph recording failed, not adopted") : ": DIFFER, not adopted");
    }

    /** A step fragment for {@link #bothWays}: its launches (way v), the reset of its inputs, its outputs. */
    private record ProductChain(java.util.function.IntConsumer chain, Runnable reset, DeviceBuffer[] outs, int[] words,
                                boolean grouped) {
    }

    /**
     * Layer 0's products and the output head of n random tokens (seeded): Q/K/V and gate/up (grouped where that is
     * on) of xb, Wo of att, the head of xb, and last down of hb2 into xb; {@code way} sets the way before the launches.
     * Outputs q, k, v, hb (silu(gate) * up, or gate), x, logits and xb.
     */
    private ProductChain layerZeroProducts(int n, long seed, java.util.function.IntConsumer way) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        float[] xs = new float[n * config.dim()];
        float[] as = new float[n * wo[0].cols()];
        float[] hs = new float[n * config.hiddenDim()];
        for (float[] a : List.of(xs, as, hs)) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rnd.nextDouble(-1, 1);
            }
        }
        boolean grouped = groupedSkinny && DeviceMatrix.groupable(n, wq[0], wk[0], wv[0])
                && DeviceMatrix.groupable(n, gate[0], up[0]) && gate[0].rows() == up[0].rows();
        java.util.function.IntConsumer chain = v -> {
            way.accept(v);
            if (grouped) {
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {wq[0], wk[0], wv[0]}, xb, new DeviceBuffer[] {q, kBuf, vBuf},
                        n, skinny, false);
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {gate[0], up[0]}, xb, new DeviceBuffer[] {hb, null}, n,
                        skinny, true);
            } else {
                wq[0].matmul(k, xb, q, n, skinny);
                wk[0].matmul(k, xb, kBuf, n, skinny);
                wv[0].matmul(k, xb, vBuf, n, skinny);
                gate[0].matmul(k, xb, hb, n, skinny);
            }
            wo[0].matmul(k, att, x, n, skinny);
            output.matmul(k, xb, logits, n, skinny);
            down[0].matmul(k, hb2, xb, n, skinny);
        };
        Runnable reset = () -> {
            xb.upload(xs, xs.length);
            att.upload(as, as.length);
            hb2.upload(hs, hs.length);
        };
        return new ProductChain(chain, reset, new DeviceBuffer[] {q, kBuf, vBuf, hb, x, logits, xb},
                new int[] {n * wq[0].rows(), n * wk[0].rows(), n * wv[0].rows(), n * config.hiddenDim(), n * wo[0].rows(),
                    n * output.rows(), n * down[0].rows()}, grouped);
    }

    /**
     * With packed weights, decides whether the streaming products run 8 warps of 32 rows per block (one block per SM,
     * up to 255 registers a thread; only products with a block for every SM, see SkinnyScratch.tallMinBlocks) instead
     * of 16-row warps: at 64 tokens a 16-row warp reads 4 bytes of activation
     * fragments from shared memory per weight byte, a 32-row warp 2, for the same mma count (run 6: the output head
     * streamed 3.0 TB/s at 16 tokens and 2.5 at 64). The split-K policy stays the same and every output adds the same
     * k in the same order, so the bits do not change: the same layer-0 products and output head as
     * {@link #choosePackedStream} run both ways, adopted only when bitwise equal and faster as CUDA graphs.
     * -Dinferstream.cuda.tallStream=on|off forces it.
     */
    private void chooseTallStream() {
        String forced = onOff("inferstream.cuda.tallStream");
        if (forced != null) {
            useTallStream(packedStream && "on".equals(forced));
            tallStreamChoice = "forced by -Dinferstream.cuda.tallStream=" + forced;
            return;
        }
        if (!packedStream || skinny == null) {
            tallStreamChoice = "the streaming products do not read packed weights; not compared";
            return;
        }
        long most = 0; // the largest tall grid among the products (grouped ones count together)
        for (DeviceMatrix[] group : List.of(new DeviceMatrix[] {wq[0], wk[0], wv[0]}, new DeviceMatrix[] {gate[0], up[0]},
                new DeviceMatrix[] {wo[0]}, new DeviceMatrix[] {down[0]}, new DeviceMatrix[] {output})) {
            long blocks = 0;
            for (DeviceMatrix m : group) {
                blocks += SkinnyScratch.tallBlocks(m.rows(), m.cols(), wideStream, deepSplit);
            }
            most = Math.max(most, blocks);
        }
        if (most < tallMinBlocks) {
            tallStreamChoice = "no product has " + tallMinBlocks + " blocks of 256 rows (the most: " + most + "); not compared";
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, capacity);
        ProductChain p = layerZeroProducts(n, 59, v -> skinny.streamTall = v == 1);
        BothWays r;
        try {
            r = bothWays(p.chain(), p.reset(), p.outs(), p.words());
        } finally {
            skinny.streamTall = tallStream;
        }
        useTallStream(r.adopt());
        bufferGeneration++;
        tallStreamChoice = "layer 0's products and the output head, " + n + " tokens" + (p.grouped() ? " (grouped)" : "")
                + ", " + r.outcome("16-row warps", "32-row warps");
    }

    /** Routes decode steps of 1..8 tokens through matmul_stream (when it is the skinny kernel) instead of matvec. */
    public synchronized void useSmallStream(boolean on) {
        smallStream = on;
        syncSkinny();
    }

    /** Whether steps of 1..8 tokens use matmul_stream, and the load-time comparison behind it. */
    public synchronized String smallStreamChoice() {
        return (smallStream ? "matmul_stream" : "matvec") + " for 1..8 tokens: " + smallStreamChoice;
    }

    /**
     * Decides whether steps of 1..8 tokens use matmul_stream instead of matvec (run 6: matvec reads gate/up at 1.3
     * TB/s and the output head at 1.6 TB/s for one token, where matmul_stream reaches 2-3 TB/s for 16). Layer 0's
     * Wo, gate, up, down and the output head run both ways on one and on eight random tokens; matmul_stream is
     * adopted only when every result is within the 16-bit rounding of its activations (max abs difference over max
     * abs value 1e-2 for BF16, 2e-3 for F16; matvec keeps them in float) and the one-token products are faster as
     * CUDA graphs. -Dinferstream.cuda.smallStream=on|off forces it.
     */
    private void chooseSmallStream() {
        String forced = onOff("inferstream.cuda.smallStream");
        if (forced != null) {
            useSmallStream(streamingSkinny && "on".equals(forced));
            smallStreamChoice = "forced by -Dinferstream.cuda.smallStream=" + forced;
            return;
        }
        if (!streamingSkinny || skinny == null) {
            smallStreamChoice = "matmul_stream is not the skinny kernel; not compared";
            return;
        }
        List<DeviceMatrix> ms = new ArrayList<>();
        for (DeviceMatrix m : List.of(wo[0], gate[0], up[0], down[0], output)) {
            if (m.takesSkinny(SkinnyScratch.MAX_TOKENS) && SkinnyScratch.streamFits(m.rows(), m.cols())) {
                ms.add(m);
            }
        }
        if (ms.isEmpty()) {
            smallStreamChoice = "no matrix takes matmul_stream; not compared";
            return;
        }
        long maxCols = 0;
        long maxRows = 0;
        for (DeviceMatrix m : ms) {
            maxCols = Math.max(maxCols, m.cols());
            maxRows = Math.max(maxRows, m.rows());
        }
        int maxN = DeviceMatrix.MATVEC_MAX_TOKENS;
        double bound = ms.get(0).type() == GgmlType.BF16 ? 1e-2 : 2e-3;
        try (DeviceBuffer in = DeviceBuffer.allocate(4L * maxN * maxCols, "small stream check x");
             DeviceBuffer out = DeviceBuffer.allocate(4L * maxN * maxRows, "small stream check y")) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(23);
            float[] xs = new float[(int) (maxN * maxCols)];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = (float) rnd.nextDouble(-1, 1);
            }
            in.upload(xs, xs.length);
            double worst = 0;
            for (DeviceMatrix m : ms) {
                for (int n : new int[] {1, maxN}) {
                    float[][] got = new float[2][n * m.rows()];
                    for (int v = 0; v < 2; v++) {
                        skinny.small = v == 1;
                        m.matmul(k, in, out, n, skinny);
                        device.synchronize();
                        out.download(got[v], got[v].length);
                    }
                    worst = Math.max(worst, relativeDifference(got[1], got[0]));
                }
            }
            java.util.function.IntConsumer products = v -> {
                skinny.small = v == 1;
                for (DeviceMatrix m : ms) {
                    m.matmul(k, in, out, 1, skinny);
                }
            };
            long[] nanos = new long[2];
            for (int v = 0; v < 2; v++) {
                nanos[v] = graphNanos(products, v, CHOICE_REPS);
            }
            skinny.small = false;
            boolean close = worst <= bound;
            boolean timed = nanos[0] > 0 && nanos[1] > 0;
            useSmallStream(close && timed && nanos[1] < nanos[0]);
            bufferGeneration++;
            smallStreamChoice = String.format(java.util.Locale.ROOT,
                    "layer 0's Wo, gate, up, down and the output head at 1 token, %d CUDA graph replays: matvec %.1f us, "
                            + "matmul_stream %.1f us; max relative difference %.2e at 1 and %d tokens (bound %.0e)%s",
                    CHOICE_REPS, nanos[0] / 1e3 / CHOICE_REPS, nanos[1] / 1e3 / CHOICE_REPS, worst, maxN, bound,
                    close ? (timed ? "" : "; graph recording failed, not adopted") : ": DIFFER, not adopted");
        }
    }

    /** Whether the grouped skinny products are on. */
    public synchronized boolean groupedSkinny() {
        return groupedSkinny;
    }

    /** The skinny kernel in use. */
    private String skinnyKernelName() {
        return streamingSkinny ? (wideStream ? "matmul_stream_wide" : "matmul_stream") : pipelinedSkinny ? "matmul_skinny_pipe" : stagedSkinny ? "matmul_skinny_smem" : "matmul_skinny";
    }

    /**
     * Whether the skinny product streams weight and activation tiles through a cp.async pipeline
     * (matmul_skinny_pipe; takes precedence over the staged kernel). Chosen at load by {@link #chooseSkinnyKernel}.
     */
    public synchronized void usePipelinedSkinny(boolean on) {
        pipelinedSkinny = on;
        syncSkinny();
    }

    /**
     * Whether the skinny product is matmul_stream (stream.cu: weights streamed straight into tensor-core fragments,
     * its own split-K; takes precedence over the pipelined and staged kernels). Chosen at load by
     * {@link #chooseSkinnyKernel}.
     */
    public synchronized void useStreamingSkinny(boolean on) {
        streamingSkinny = on;
        syncSkinny();
    }

    /** With the streaming kernel: its 16-warp blocks (matmul_stream_wide) instead of 8-warp ones. Chosen at load. */
    public synchronized void useWideStream(boolean on) {
        wideStream = on;
        syncSkinny();
    }

    /** Whether the streaming kernel runs 16-warp blocks. */
    public synchronized boolean wideStream() {
        return wideStream;
    }

    /** Whether the skinny product is matmul_stream. */
    public synchronized boolean streamingSkinny() {
        return streamingSkinny;
    }

    /** Whether the skinny product uses the cp.async pipeline kernel. */
    public synchronized boolean pipelinedSkinny() {
        return pipelinedSkinny;
    }

    /** Whether the skinny decode product is on. */
    public synchronized boolean skinnyDecode() {
        return skinny != null;
    }

    private List<DeviceMatrix> allMatrices() {
        List<DeviceMatrix> all = new ArrayList<>(List.of(output));
        for (int l = 0; l < config.nLayers(); l++) {
            all.addAll(List.of(wq[l], wk[l], wv[l], wo[l], gate[l], up[l], down[l]));
        }
        return all;
    }

    /** Why graph recording was given up, or null. */
    public String graphFailure() {
        return graphFailure;
    }

    /** Steps run as a graph replay so far. */
    public long graphLaunches() {
        return graphLaunches;
    }

    private void replay(StepShape shape, CudaKvStore kv, int head) {
        GraphKey key = new GraphKey(shape.n(), shape.m(), shape.maxBlocks(), kv, bufferGeneration, head);
        CUgraphExec exec = graphCache.get(key);
        if (exec == null) {
            exec = record(shape, kv, head);
            if (exec == null) {
                launchStepWithHead(shape, kv, head);
                return;
            }
            if (graphCache.size() >= 64) {
                destroyGraphs();
            }
            graphCache.put(key, exec);
        }
        cuGraphLaunch(exec, graphStream);
        graphLaunches++;
    }

    /** Records a step and its head on the graph stream; null (and graphs off) when the driver refuses. */
    private CUgraphExec record(StepShape shape, CudaKvStore kv, int head) {
        CUgraph graph = new CUgraph();
        boolean capturing = false;
        try {
            if (graphStream == null) {
                graphStream = new CUstream();
                cuStreamCreate(graphStream, 0); // blocking: ordered after the default stream's metadata copy
            }
            k.stream(graphStream);
            cuStreamBeginCapture(graphStream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
            capturing = true;
            launchStepWithHead(shape, kv, head);
            capturing = false;
            cuStreamEndCapture(graphStream, graph);
            CUgraphExec exec = new CUgraphExec();
            cuGraphInstantiate(exec, graph, 0);
            cuGraphDestroy(graph);
            return exec;
        } catch (RuntimeException e) {
            if (capturing) {
                try {
                    cuStreamEndCapture(graphStream, graph);
                } catch (RuntimeException ignored) {
                    // the capture is already invalid; ending it only resets the stream
                }
            }
            graphs = false;
            graphFailure = "CUDA graph recording failed, running eagerly: " + e.getMessage();
            return null;
        } finally {
            k.stream(null);
        }
    }

    private void destroyGraphs() {
        for (CUgraphExec e : graphCache.values()) {
            cuGraphExecDestroy(e);
        }
        graphCache.clear();
    }

    /** Device logits of the last step, [logitRows, vocab] (tests). */
    DeviceBuffer deviceLogits() {
        return logits;
    }

    private void forwardOnDevice(TokenBatch batch, KvStore store, boolean wantLogits) {
        StepShape shape = prepare(batch, store);
        launchStep(shape, (CudaKvStore) store, wantLogits);
    }

    /** Validates the step and uploads its metadata (one copy); the launches then only read device memory. */
    private StepShape prepare(TokenBatch batch, KvStore store) {
        if (!(store instanceof CudaKvStore kv)) {
            throw new IllegalArgumentException("the CUDA model needs the KV store from its own newKvStore, got "
                    + store.getClass().getName());
        }
        validate(batch, kv);
        device.makeCurrent();
        if (profile != null) {
            profile.start();
        }
        int n = batch.size();
        steps++;
        ensureCapacity(n);

        // Step metadata, one upload: tokens [n] | positions [n] | seq [n] | slots [n] | logitRows [m] | tables [seqs, maxBlocks]
        int[][] tables = batch.blockTables();
        int maxBlocks = 1;
        for (int[] t : tables) {
            maxBlocks = Math.max(maxBlocks, t.length);
        }
        int m = batch.logitRows().length;
        int total = 4 * n + m + tables.length * maxBlocks;
        int[] meta = new int[total];
        int bs = kv.blockSize();
        for (int t = 0; t < n; t++) {
            int pos = batch.positions()[t];
            meta[t] = batch.tokens()[t];
            meta[n + t] = pos;
            meta[2 * n + t] = batch.seq()[t];
            meta[3 * n + t] = tables[batch.seq()[t]][pos / bs] * bs + pos % bs;
        }
        System.arraycopy(batch.logitRows(), 0, meta, 4 * n, m);
        for (int s = 0; s < tables.length; s++) {
            System.arraycopy(tables[s], 0, meta, 4 * n + m + s * maxBlocks, tables[s].length);
        }
        if (total > intsCapacity) {
            ints.close();
            intsCapacity = Math.max(total, 2 * intsCapacity);
            ints = DeviceBuffer.allocate(4L * intsCapacity, "step metadata");
            bufferGeneration++;
        }
        ints.upload(meta, total);
        mark(StepProfile.Part.METADATA);
        return new StepShape(n, m, maxBlocks);
    }

    /** Launches every kernel of a prepared step (nothing else: the sequence can be recorded as a CUDA graph). */
    private void launchStep(StepShape shape, CudaKvStore kv, boolean wantLogits) {
        int n = shape.n();
        int m = shape.m();
        int maxBlocks = shape.maxBlocks();
        int bs = kv.blockSize();
        int dim = config.dim();
        int hidden = config.hiddenDim();
        int headDim = config.headDim();
        var tokens = ints.at(0);
        var positions = ints.at(4L * n);
        var seq = ints.at(8L * n);
        var slots = ints.at(12L * n);
        var rows = ints.at(16L * n);
        var tableData = ints.at(16L * n + 4L * m);

        k.launch(embedName(embedding), n, 1, 256, 0, embeddingData(), embeddingScales(), tokens, x, dim);
        mark(StepProfile.Part.EMBED);
        boolean f16Kv = kv.precision() == KvStore.Precision.F16;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int layers = config.nLayers();
        // xb = rmsnorm(x) of layer 0; later layers get it from the previous layer's fused add_rmsnorm
        rmsnorm(null, n, attnNorm[0], qkvReadsHalves(0, n) ? wq[0] : null);
        mark(StepProfile.Part.NORM);
        for (int l = 0; l < layers; l++) {
            // Attention block: q, k, v = xb Wq^T, xb Wk^T, xb Wv^T   // [n, qDim], [n, kvDim]
            boolean qkvGrouped = skinny != null && groupedSkinny && DeviceMatrix.groupable(n, wq[l], wk[l], wv[l]);
            if (qkvGrouped && fusedRope) {
                // q, k, v = xb Wq^T, xb Wk^T, xb Wv^T, + biases, RoPE, the KV write: the reduction does them all
                int[] splits = DeviceMatrix.skinnyGroupPartials(k, new DeviceMatrix[] {wq[l], wk[l], wv[l]}, xb, n, skinny,
                        qkvReadsHalves(l, n));
                mark(StepProfile.Part.QKV_MATMUL);
                reduceRopeKv(l, n, splits, positions, slots, kv.keys(l), kv.values(l), f16Kv);
                mark(StepProfile.Part.ROPE_KV);
            } else if (qkvGrouped) {
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {wq[l], wk[l], wv[l]}, xb, new DeviceBuffer[] {q, kBuf, vBuf},
                        n, skinny, false, qkvReadsHalves(l, n), false);
            } else {
                DeviceMatrix.matmul3(k, wq[l], wk[l], wv[l], xb, q, kBuf, vBuf, n, skinny);
            }
            if (!(qkvGrouped && fusedRope)) {
                addQkvBiases(l, n);
                mark(StepProfile.Part.QKV_MATMUL);
                // RoPE, then the KV write, in one launch. All of the step's keys/values are stored before any token
                // attends: a prefill chunk sees itself.
                ropeKvStore(n, positions, slots, kv.keys(l), kv.values(l), f16Kv);
                mark(StepProfile.Part.ROPE_KV);
            }
            boolean woHalves = woReadsHalves(l, n);
            if (l2Prefetch > 0) { // Wo and gate/up weights into L2 while the attention leaves HBM idle
                prefetchWeights(l, l2Prefetch);
            }
            if (useSplitAttention) { // with woHalves it also writes att's 16-bit copy for the Wo product
                splitAttention.launch(k, f16Kv, q, kv.keys(l), kv.values(l), positions, seq, tableData, maxBlocks, bs, att,
                        n, scale, SplitAttention.splits(n, config.nKvHeads()), woHalves ? skinny.halves : null, wo[l].type(),
                        DeviceMatrix.streamPad(n));
            } else {
                launchPerHeadAttention(f16Kv, q, kv.keys(l), kv.values(l), positions, seq, tableData, maxBlocks, bs, att, n);
            }
            mark(StepProfile.Part.ATTENTION);
            // With the fused norm (chosen at load), the streaming product's split-K reduction is left to the next norm
            int woSplits = fuseReduceNorm() ? wo[l].matmulPartials(k, att, xb, n, skinny, woHalves)
                    : matmulAll(wo[l], att, xb, n, woHalves);
            mark(StepProfile.Part.WO_MATMUL);

            // Feed-forward block: x += xb; xb = rmsnorm(x) (one launch), x += W2 (silu(W1 xb) * W3 xb)   // hidden [n, hidden]
            boolean ffnHalves = ffnReadsHalves(l, n);
            boolean downHalves = downReadsHalves(l, n);
            addRmsnorm(woSplits, n, ffnNorm[l], ffnHalves ? gate[l] : null);
            mark(StepProfile.Part.NORM);
            if (skinny != null && groupedSkinny && DeviceMatrix.groupable(n, gate[l], up[l])
                    && gate[l].rows() == up[l].rows()) {
                // hb = silu(xb gate^T) * (xb up^T), SwiGLU in the split-K reduction
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {gate[l], up[l]}, xb, new DeviceBuffer[] {hb, null}, n,
                        skinny, true, ffnHalves, downHalves);
                mark(StepProfile.Part.FFN_MATMUL);
            } else {
                gate[l].matmul(k, xb, hb, n, skinny);
                up[l].matmul(k, xb, hb2, n, skinny);
                mark(StepProfile.Part.FFN_MATMUL);
                k.launch("swiglu", blocks(n * hidden), 1, 256, 0, hb, hb2, n * hidden);
                mark(StepProfile.Part.ELEMENTWISE);
            }
            int downSplits = l + 1 < layers && fuseReduceNorm() ? down[l].matmulPartials(k, hb, xb, n, skinny, downHalves)
                    : matmulAll(down[l], hb, xb, n, downHalves);
            mark(StepProfile.Part.FFN_MATMUL);
            if (l + 1 < layers) {
                // x += xb; xb = rmsnorm(x) for the next layer's attention
                addRmsnorm(downSplits, n, attnNorm[l + 1], qkvReadsHalves(l + 1, n) ? wq[l + 1] : null);
                mark(StepProfile.Part.NORM);
            } else {
                k.launch("add_inplace", blocks(n * dim), 1, 256, 0, x, xb, n * dim);
                mark(StepProfile.Part.ELEMENTWISE);
            }
        }
        if (wantLogits) {
            // Final norm and classifier, only for the rows whose logits are wanted: xb [m, dim], logits [m, vocab]
            boolean headHalves = halvesFused() && output.readsHalves(m, skinny);
            rmsnorm(rows, m, outputNorm, headHalves ? output : null);
            mark(StepProfile.Part.NORM);
            output.matmul(k, xb, logits, m, skinny, headHalves);
            mark(StepProfile.Part.OUTPUT_MATMUL);
        }
    }

    private void addQkvBiases(int l, int n) {
        if (bq != null) {
            int kvDim = config.kvDim();
            k.launch("add_bias", blocks(n * qDim), 1, 256, 0, q, bq[l], n, qDim);
            k.launch("add_bias", blocks(n * kvDim), 1, 256, 0, kBuf, bk[l], n, kvDim);
            k.launch("add_bias", blocks(n * kvDim), 1, 256, 0, vBuf, bv[l], n, kvDim);
        }
    }

    /** q, k rotated in place; token t's rotated key and its value into cache slot slots[t] (rope_kv_store_*). */
    private void ropeKvStore(int n, Object positions, Object slots, Object keys, Object values, boolean f16Kv) {
        k.launch(f16Kv ? "rope_kv_store_f16" : "rope_kv_store_f32", n, 1, 256, 0, q, kBuf, vBuf, positions, invFreq,
                config.nHeads(), config.nKvHeads(), config.headDim(), config.ropeNeox() ? 1 : 0, slots, keys, values);
    }

    /**
     * The grouped Q/K/V product's split-K reduction (partial sums left in the skinny scratch with these split counts),
     * layer l's biases, RoPE and the KV write in one launch (splitk_reduce_rope_kv_*): bit for bit splitk_reduce_group,
     * add_bias and rope_kv_store.
     */
    private void reduceRopeKv(int l, int n, int[] splits, Object positions, Object slots, Object keys, Object values,
                              boolean f16Kv) {
        int pairs = (config.nHeads() + 2 * config.nKvHeads()) * config.headDim() / 2;
        k.launch(f16Kv ? "splitk_reduce_rope_kv_f16" : "splitk_reduce_rope_kv_f32", n, (pairs + 255) / 256, 256, 0,
                skinny.partial, q, kBuf, vBuf, bq == null ? null : bq[l], bk == null ? null : bk[l],
                bv == null ? null : bv[l], positions, invFreq, slots, keys, values, DeviceMatrix.groupPad(n, skinny),
                config.nHeads(), config.nKvHeads(), config.headDim(), config.ropeNeox() ? 1 : 0, splits[0], splits[1],
                splits[2]);
    }

    /** l2_prefetch of layer l's Wo, then equal prefixes of gate and up: {@code budget} bytes in all. */
    private void prefetchWeights(int l, long budget) {
        DeviceBuffer o = wo[l].streamData(skinny); // the copy the products read: packed or row-major
        DeviceBuffer gt = gate[l].streamData(skinny);
        DeviceBuffer u0 = up[l].streamData(skinny);
        long a = Math.min(budget, o.bytes());
        long g = Math.min((budget - a) / 2, gt.bytes());
        long u = Math.min(budget - a - g, u0.bytes());
        k.launch("l2_prefetch", PREFETCH_BLOCKS, 1, 256, 0, o, a, gt, g, u0, u);
    }

    /** Blocks of l2_prefetch: about two per SM of an H100/H200, each thread issuing a few prefetches. */
    private static final int PREFETCH_BLOCKS = 264;

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

    /** What {@link #chooseL2Prefetch} decided, and why. */
    public synchronized String l2PrefetchChoice() {
        return (l2Prefetch == 0 ? "none" : (l2Prefetch >> 20) + " MiB per layer") + ": " + l2PrefetchChoice;
    }

    /**
     * Decides how much of each layer's Wo and gate/up weights l2_prefetch brings into L2 before the attention
     * (prefetch.cu says why). Layer 0's chain as a decode step runs it (attention over a random F16 cache of 64 tokens,
     * Wo, residual add and norm, gate/up with SwiGLU, down) is timed as CUDA graphs with 0, 8, 16, 32 and 48 MiB
     * prefetched, each twice in alternation (the faster of the two); the best budget is adopted only when at least 2 %
     * faster than none. Results do not change (a prefetch only moves data into a cache).
     * -Dinferstream.cuda.l2PrefetchMiB=N forces N MiB.
     */
    private void chooseL2Prefetch() {
        String forced = System.getProperty("inferstream.cuda.l2PrefetchMiB");
        if (forced != null) {
            useL2Prefetch(Long.parseLong(forced) << 20);
            l2PrefetchChoice = "forced by -Dinferstream.cuda.l2PrefetchMiB=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, capacity);
        int dim = config.dim();
        if (config.hiddenDim() < dim) {
            l2PrefetchChoice = "FFN narrower than the model (down's output does not fit the scratch); not compared";
            return;
        }
        long[] budgets = {0, 8L << 20, 16L << 20, 32L << 20, 48L << 20};
        long[] nanos = new long[budgets.length];
        java.util.Arrays.fill(nanos, Long.MAX_VALUE);
        try (AttentionFixture fx = new AttentionFixture(n, qDim, config.kvDim(), 41)) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(43);
            float[] x0 = new float[n * dim];
            for (int i = 0; i < x0.length; i++) {
                x0[i] = (float) rnd.nextDouble(-2, 2);
            }
            x.upload(x0, x0.length);
            float scale = (float) (1.0 / Math.sqrt(config.headDim()));
            boolean grouped = skinny != null && groupedSkinny && DeviceMatrix.groupable(n, gate[0], up[0])
                    && gate[0].rows() == up[0].rows();
            java.util.function.IntConsumer chain = v -> {
                if (budgets[v] > 0) {
                    prefetchWeights(0, budgets[v]);
                }
                if (useSplitAttention) {
                    splitAttention.launch(k, true, fx.q, fx.keys16, fx.values16, fx.positions(), fx.seq(), fx.tables(),
                            AttentionFixture.MAX_BLOCKS, AttentionFixture.BLOCK_SIZE, att, n, scale,
                            SplitAttention.splits(n, config.nKvHeads()));
                } else {
                    launchPerHeadAttention(true, fx.q, fx.keys16, fx.values16, fx.positions(), fx.seq(), fx.tables(),
                            AttentionFixture.MAX_BLOCKS, AttentionFixture.BLOCK_SIZE, att, n);
                }
                wo[0].matmul(k, att, xb, n, skinny);
                addRmsnorm(0, n, ffnNorm[0], null);
                if (grouped) {
                    DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {gate[0], up[0]}, xb, new DeviceBuffer[] {hb, null}, n,
                            skinny, true);
                } else {
                    gate[0].matmul(k, xb, hb, n, skinny);
                    up[0].matmul(k, xb, hb2, n, skinny);
                    k.launch("swiglu", blocks(n * config.hiddenDim()), 1, 256, 0, hb, hb2, n * config.hiddenDim());
                }
                down[0].matmul(k, hb, hb2, n, skinny);
            };
            for (int round = 0; round < 2; round++) {
                for (int v = 0; v < budgets.length; v++) {
                    long t = graphNanos(chain, v, CHOICE_REPS);
                    if (t > 0) {
                        nanos[v] = Math.min(nanos[v], t);
                    }
                }
            }
        }
        int best = 0;
        for (int v = 1; v < budgets.length; v++) {
            if (nanos[v] < nanos[best]) {
                best = v;
            }
        }
        boolean timed = nanos[0] != Long.MAX_VALUE;
        useL2Prefetch(timed && nanos[best] < 0.98 * nanos[0] ? budgets[best] : 0);
        bufferGeneration++;
        StringBuilder times = new StringBuilder();
        for (int v = 0; v < budgets.length; v++) {
            times.append(v == 0 ? "" : ", ").append(budgets[v] >> 20).append(" MiB ")
                    .append(nanos[v] == Long.MAX_VALUE ? "-" : String.format(java.util.Locale.ROOT, "%.1f us",
                            nanos[v] / 1e3 / CHOICE_REPS));
        }
        l2PrefetchChoice = "layer 0's attention, Wo, norm, gate/up and down at " + n + " tokens, " + CHOICE_REPS
                + " CUDA graph replays (best of 2): " + times + (timed ? "" : "; graph recording failed, not adopted");
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

    /** What {@link #chooseFusedRope} decided, and why. */
    public synchronized String fusedRopeChoice() {
        return (fusedRope ? "splitk_reduce_rope_kv" : "splitk_reduce_group + rope_kv_store") + ": " + fusedRopeChoice;
    }

    /**
     * Decides whether the grouped Q/K/V product's split-K reduction also adds the biases, applies RoPE and writes the
     * KV cache (splitk_reduce_rope_kv_*: one launch instead of two to five; run 6 on an H200 had rope_kv_store at
     * 8 us per layer of a c = 64 step, one block per token). Same arithmetic in the same order, so the results must be
     * bit for bit the same: layer 0's grouped product of 64 random tokens at random positions, written to shuffled
     * cache slots, runs both ways with F16 and with F32 KV; q, k, v and the cache rows must be bitwise equal, and the
     * fused way is adopted only when also faster as CUDA graphs (F16 KV). -Dinferstream.cuda.fuseRope=on|off forces it.
     */
    private void chooseFusedRope() {
        String forced = onOff("inferstream.cuda.fuseRope");
        if (forced != null) {
            useFusedRope("on".equals(forced));
            fusedRopeChoice = "forced by -Dinferstream.cuda.fuseRope=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, capacity);
        if (skinny == null || !groupedSkinny || !DeviceMatrix.groupable(n, wq[0], wk[0], wv[0])) {
            fusedRopeChoice = "layer 0's Q/K/V do not take the grouped product at " + n + " tokens; not compared";
            return;
        }
        int dim = config.dim();
        int kvDim = config.kvDim();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(31);
        float[] xs = new float[n * dim];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rnd.nextDouble(-1, 1);
        }
        int[] meta = new int[2 * n]; // positions [n] | slots [n]
        for (int t = 0; t < n; t++) {
            meta[t] = t < 2 ? t : rnd.nextInt(4096); // position 0: angle 0
            meta[n + t] = n - 1 - t;
        }
        DeviceMatrix[] qkv = {wq[0], wk[0], wv[0]};
        try (DeviceBuffer md = DeviceBuffer.allocate(4L * meta.length, "fused rope check metadata");
             DeviceBuffer keys = DeviceBuffer.allocate(4L * n * kvDim, "fused rope check keys");
             DeviceBuffer values = DeviceBuffer.allocate(4L * n * kvDim, "fused rope check values")) {
            md.upload(meta, meta.length);
            CUdeviceptr positions = md.pointer();
            CUdeviceptr slots = md.at(4L * n);
            xb.upload(xs, xs.length);
            BothWays[] runs = new BothWays[2]; // F16 KV, F32 KV
            for (boolean f16 : new boolean[] {true, false}) {
                java.util.function.IntConsumer chain = v -> {
                    if (v == 1) {
                        int[] splits = DeviceMatrix.skinnyGroupPartials(k, qkv, xb, n, skinny, false);
                        reduceRopeKv(0, n, splits, positions, slots, keys, values, f16);
                    } else {
                        DeviceMatrix.skinnyGroup(k, qkv, xb, new DeviceBuffer[] {q, kBuf, vBuf}, n, skinny, false);
                        addQkvBiases(0, n);
                        ropeKvStore(n, positions, slots, keys, values, f16);
                    }
                };
                DeviceBuffer[] outs = {q, kBuf, vBuf, keys, values};
                int cache = f16 ? n * kvDim / 2 : n * kvDim; // words of the cache rows (kvDim is even)
                runs[f16 ? 0 : 1] = bothWays(chain, () -> { }, outs, new int[] {n * qDim, n * kvDim, n * kvDim, cache, cache});
            }
            BothWays r = runs[0].and(runs[1]); // F16's timings, both precisions' bits
            useFusedRope(r.adopt());
            bufferGeneration++;
            fusedRopeChoice = "layer 0's grouped Q/K/V (q, k, v and the cache rows, F16 and F32 KV; timed with F16), " + n
                    + " tokens, " + r.outcome("separate", "fused");
        }
    }

    /** y = x . m^T with the step's product kernels; 0 splits left unreduced (see {@link #addRmsnorm}). */
    private int matmulAll(DeviceMatrix m, DeviceBuffer xIn, DeviceBuffer y, int n, boolean halvesReady) {
        m.matmul(k, xIn, y, n, skinny, halvesReady);
        return 0;
    }

    /**
     * xb [r] = rmsnorm(x [rows[r]]) * w for r < n (rows null: r itself); with a {@code consumer}, also its padded
     * 16-bit activations in the skinny scratch (rmsnorm_vec_h_*: {@link #halvesFused}).
     */
    private void rmsnorm(CUdeviceptr rows, int n, DeviceBuffer w, DeviceMatrix consumer) {
        int dim = config.dim();
        if (consumer != null) {
            k.launch("rmsnorm_vec_h_" + consumer.halfSuffix(), DeviceMatrix.streamPad(n), 1, 256, 0, x, rows, w, xb,
                    skinny.halves, n, dim, config.rmsEps());
        } else {
            k.launch(vectorNorm ? "rmsnorm_vec" : "rmsnorm", n, 1, 256, 0, x, rows, w, xb, dim, config.rmsEps());
        }
    }

    /**
     * x += xb; xb = rmsnorm(x) * w: from xb itself (splits 0), or from the split-K partial sums the streaming product
     * left in the skinny scratch (add_rmsnorm_splitk_vec, bit for bit the reduction followed by add_rmsnorm_vec). With a
     * {@code consumer} (the next product, which then reads them: {@link #halvesFused}), the _h kernel also writes xb's
     * padded 16-bit copy into the skinny scratch in the consumer's type.
     */
    private void addRmsnorm(int splits, int n, DeviceBuffer w, DeviceMatrix consumer) {
        int dim = config.dim();
        float eps = config.rmsEps();
        String h = consumer == null ? "" : "_h_" + consumer.halfSuffix();
        int grid = consumer == null ? n : DeviceMatrix.streamPad(n);
        if (splits > 0 && consumer != null) {
            k.launch("add_rmsnorm_splitk_vec" + h, grid, 1, 256, 0, x, skinny.partial, splits, DeviceMatrix.streamPad(n), w, xb,
                    skinny.halves, n, dim, eps);
        } else if (splits > 0) {
            k.launch("add_rmsnorm_splitk_vec", n, 1, 256, 0, x, skinny.partial, splits, DeviceMatrix.streamPad(n), w, xb, dim,
                    eps);
        } else if (consumer != null) {
            k.launch("add_rmsnorm_vec" + h, grid, 1, 256, 0, x, xb, w, xb, skinny.halves, n, dim, eps);
        } else {
            k.launch(vectorNorm ? "add_rmsnorm_vec" : "add_rmsnorm", n, 1, 256, 0, x, xb, w, xb, dim, eps);
        }
    }

    /**
     * Whether the norms and the SwiGLU reduction write the streaming products' padded 16-bit activations themselves
     * (the _h kernels) instead of a to_half_padded launch before each product: chosen at load
     * ({@link #chooseFusedHalves}); needs the vector norms and the streaming product.
     */
    private boolean halvesFused() {
        return fusedHalves && vectorNorm && skinny != null && skinny.streaming;
    }

    /** Whether layer l's grouped Q/K/V product of n tokens reads the 16-bit activations its norm wrote. */
    private boolean qkvReadsHalves(int l, int n) {
        return halvesFused() && groupedSkinny && DeviceMatrix.groupable(n, wq[l], wk[l], wv[l]);
    }

    /** Whether layer l's Wo product of n tokens reads the 16-bit attention output the split attention wrote. */
    private boolean woReadsHalves(int l, int n) {
        return halvesFused() && useSplitAttention && splitAttention != null && wo[l].readsHalves(n, skinny);
    }

    /** Whether layer l's grouped gate/up product (SwiGLU in its reduction) reads the 16-bit activations of its norm. */
    private boolean ffnReadsHalves(int l, int n) {
        return halvesFused() && groupedSkinny && DeviceMatrix.groupable(n, gate[l], up[l]) && gate[l].rows() == up[l].rows();
    }

    /** Whether layer l's down product reads the 16-bit activations the SwiGLU reduction wrote. */
    private boolean downReadsHalves(int l, int n) {
        return ffnReadsHalves(l, n) && down[l].readsHalves(n, skinny) && down[l].type() == gate[l].type();
    }

    /** Whether a step of n tokens has every layer's products read 16-bit activations their producers wrote (tests). */
    public synchronized boolean producersWriteHalves(int n) {
        for (int l = 0; l < config.nLayers(); l++) {
            if (!qkvReadsHalves(l, n) || !woReadsHalves(l, n) || !downReadsHalves(l, n)) {
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

    /** What {@link #chooseFusedHalves} decided, and why. */
    public synchronized String fusedHalvesChoice() {
        return (fusedHalves ? "written by the norms and the SwiGLU reduction" : "separate to_half_padded launches") + ": "
                + fusedHalvesChoice;
    }

    /**
     * Decides whether the norms and the SwiGLU reduction write the padded 16-bit activations of the streaming products
     * (the split attention writes Wo's too: 4 launches fewer per layer and one for the output head; run 6 on an H200
     * spent 65 to_half_padded launches and
     * 0.21 ms of one 2.6 ms c = 64 step on them). The _h kernels round the same floats as to_half_padded, so the results
     * must be bit for bit the same: layer 0's chain (split attention and Wo; residual add and norm, grouped Q/K/V; norm,
     * grouped gate/up with SwiGLU, down; the final norm over shuffled rows and the output head) runs both ways on 64
     * random tokens (the attention over a random F16 cache: {@link AttentionFixture}), and the
     * fused way is adopted only when every output is bitwise equal and it is faster as CUDA graphs.
     * -Dinferstream.cuda.fuseHalves=on|off forces it.
     */
    private void chooseFusedHalves() {
        String forced = onOff("inferstream.cuda.fuseHalves");
        if (forced != null) {
            useFusedHalves("on".equals(forced));
            fusedHalvesChoice = "forced by -Dinferstream.cuda.fuseHalves=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, capacity);
        int dim = config.dim();
        int hidden = config.hiddenDim();
        fusedHalves = true; // what the step would do with it on
        boolean applies = halvesFused() && qkvReadsHalves(0, n) && downReadsHalves(0, n) && hidden >= dim;
        boolean head = applies && output.readsHalves(n, skinny);
        boolean attention = applies && woReadsHalves(0, n);
        fusedHalves = false;
        if (!applies) {
            fusedHalvesChoice = "layer 0's products of " + n + " tokens do not all read the streaming product's "
                    + "activations (vector norms, matmul_stream and the grouped products needed); not compared";
            return;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(29);
        float[] x0 = new float[n * dim];
        float[] y0 = new float[n * dim];
        for (int i = 0; i < x0.length; i++) {
            x0[i] = (float) rnd.nextDouble(-2, 2);
            y0[i] = (float) rnd.nextDouble(-2, 2);
        }
        int[] shuffled = new int[n];
        for (int r = 0; r < n; r++) {
            shuffled[r] = n - 1 - r; // the head's rows through the index, as steps pick their last tokens
        }
        int vocab = config.vocabSize();
        DeviceBuffer[] outs = {x, q, kBuf, vBuf, hb, hb2, logits, att, xb};
        int[] lengths = {n * dim, n * wq[0].rows(), n * wk[0].rows(), n * wv[0].rows(), n * hidden, n * dim,
                head ? n * vocab : 0, attention ? n * qDim : 0, n * dim};
        try (DeviceBuffer rowIndex = DeviceBuffer.allocate(4L * n, "fused halves check rows");
             AttentionFixture fx = attention ? new AttentionFixture(n, qDim, config.kvDim(), 37) : null) {
            rowIndex.upload(shuffled, n);
            java.util.function.IntConsumer chain = v -> {
                fusedHalves = v == 1;
                if (attention) { // split attention (F16 KV) -> att and its 16-bit copy -> Wo -> xb
                    boolean h = woReadsHalves(0, n);
                    splitAttention.launch(k, true, fx.q, fx.keys16, fx.values16, fx.positions(), fx.seq(), fx.tables(),
                            AttentionFixture.MAX_BLOCKS, AttentionFixture.BLOCK_SIZE, att, n,
                            (float) (1.0 / Math.sqrt(config.headDim())), SplitAttention.splits(n, config.nKvHeads()),
                            h ? skinny.halves : null, wo[0].type(), DeviceMatrix.streamPad(n));
                    wo[0].matmul(k, att, xb, n, skinny, h);
                }
                // x += xb; xb = norm(x) -> grouped Q/K/V
                addRmsnorm(0, n, ffnNorm[0], qkvReadsHalves(0, n) ? wq[0] : null);
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {wq[0], wk[0], wv[0]}, xb, new DeviceBuffer[] {q, kBuf, vBuf},
                        n, skinny, false, qkvReadsHalves(0, n), false);
                // xb = norm(x) -> gate/up with SwiGLU -> hb -> down -> hb2 [n, dim]
                rmsnorm(null, n, attnNorm[0], ffnReadsHalves(0, n) ? gate[0] : null);
                DeviceMatrix.skinnyGroup(k, new DeviceMatrix[] {gate[0], up[0]}, xb, new DeviceBuffer[] {hb, null}, n, skinny,
                        true, ffnReadsHalves(0, n), downReadsHalves(0, n));
                down[0].matmul(k, hb, hb2, n, skinny, downReadsHalves(0, n));
                if (head) { // the final norm over shuffled rows -> the output head
                    boolean h = halvesFused();
                    rmsnorm(rowIndex.pointer(), n, outputNorm, h ? output : null);
                    output.matmul(k, xb, logits, n, skinny, h);
                }
            };
            BothWays r = bothWays(chain, () -> {
                x.upload(x0, x0.length);
                xb.upload(y0, y0.length);
            }, outs, lengths); // graph replays: x grows by a normalised row each, stays finite
            fusedHalves = false;
            useFusedHalves(r.adopt());
            bufferGeneration++;
            fusedHalvesChoice = "layer 0's chain" + (attention ? " with the attention" : "") + (head ? " and the output head" : "")
                    + ", " + n + " tokens, " + r.outcome("separate conversions", "written by the producers");
        }
    }

    /**
     * Whether the Wo and down products hand their split-K partial sums to the next norm (one launch less each): with
     * the streaming product and the vector norms, when chosen at load ({@link #chooseFusedNorm}) or {@link #useFusedNorm}.
     */
    private boolean fuseReduceNorm() {
        return fuseNorm && vectorNorm && skinny != null && skinny.streaming;
    }

    /** What {@link #chooseFusedNorm} decided, and why. */
    public synchronized String fusedNormChoice() {
        return (fuseNorm ? "add_rmsnorm_splitk_vec" : "splitk_reduce + add_rmsnorm_vec") + ": " + fusedNormChoice;
    }

    /**
     * Decides whether the Wo and down products leave their split-K partial sums to the next norm
     * (add_rmsnorm_splitk_vec: one launch fewer per product, 2 per layer). Bit for bit the reduction followed by the
     * norm by construction; run 6 measured it 0.08 ms slower per c = 64 step when its loads went one split and one
     * piece at a time, since rewritten to keep a thread's loads of two splits in flight together. Layer 0's Wo of
     * 64 random tokens (with its split count) followed by the residual add and norm runs both ways; adopted only when x
     * and the norm's output are bitwise equal and the fused way is faster as CUDA graphs.
     * -Dinferstream.cuda.fuseNorm=true|false forces it.
     */
    private void chooseFusedNorm() {
        String forced = System.getProperty("inferstream.cuda.fuseNorm");
        if (forced != null) {
            useFusedNorm("true".equals(forced));
            fusedNormChoice = "forced by -Dinferstream.cuda.fuseNorm=" + forced;
            return;
        }
        int n = Math.min(SkinnyScratch.MAX_TOKENS, capacity);
        int dim = config.dim();
        boolean wasFused = fuseNorm;
        fuseNorm = true;
        boolean applies = fuseReduceNorm() && wo[0].readsHalves(n, skinny) && skinny.splits(wo[0].rows(), wo[0].cols()) > 1;
        fuseNorm = wasFused;
        if (!applies) {
            fusedNormChoice = "layer 0's Wo of " + n + " tokens has no split-K partial sums to hand over (streaming product "
                    + "with several splits and vector norms needed); not compared";
            return;
        }
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(47);
        float[] x0 = new float[n * dim];
        float[] a0 = new float[n * qDim];
        for (int i = 0; i < x0.length; i++) {
            x0[i] = (float) rnd.nextDouble(-2, 2);
        }
        for (int i = 0; i < a0.length; i++) {
            a0[i] = (float) rnd.nextDouble(-1, 1);
        }
        att.upload(a0, a0.length);
        java.util.function.IntConsumer chain = v -> {
            int splits = v == 1 ? wo[0].matmulPartials(k, att, xb, n, skinny, false) : matmulAll(wo[0], att, xb, n, false);
            addRmsnorm(splits, n, ffnNorm[0], null);
        };
        BothWays r = bothWays(chain, () -> x.upload(x0, x0.length), new DeviceBuffer[] {x, xb}, new int[] {n * dim, n * dim});
        useFusedNorm(r.adopt());
        bufferGeneration++;
        fusedNormChoice = "layer 0's Wo (" + skinny.splits(wo[0].rows(), wo[0].cols()) + " splits) and norm (x and the "
                + "norm's output), " + n + " tokens, " + r.outcome("separate", "fused");
    }

    /**
     * Two ways of the same step fragment compared: whether every output had the same bits both ways, and each way's
     * time for {@code CHOICE_REPS} CUDA graph replays (-1 where recording failed).
     */
    private record BothWays(boolean equal, long[] nanos) {
        boolean timed() {
            return nanos[0] > 0 && nanos[1] > 0;
        }

        /** The second way is taken only when it gave the same bits and was faster. */
        boolean adopt() {
            return equal && timed() && nanos[1] < nanos[0];
        }

        /** These timings with {@code other}'s bits as well. */
        BothWays and(BothWays other) {
            return new BothWays(equal && other.equal, nanos);
        }

        String outcome(String first, String second) {
            return String.format(java.util.Locale.ROOT, "%d CUDA graph replays: %s %.1f us, %s %.1f us; outputs %s",
                    CHOICE_REPS, first, nanos[0] / 1e3 / CHOICE_REPS, second, nanos[1] / 1e3 / CHOICE_REPS,
                    equal ? "bitwise equal" + (timed() ? "" : "; graph recording failed, not adopted") : "DIFFER, not adopted");
        }
    }

    /**
     * Runs {@code chain} way 0 (the proven kernels) and way 1 (the candidate), each eagerly after {@code reset}, reads
     * the first {@code words[o]} 32-bit words of each output, then times both ways as CUDA graphs.
     */
    private BothWays bothWays(java.util.function.IntConsumer chain, Runnable reset, DeviceBuffer[] outs, int[] words) {
        int[][][] got = new int[2][outs.length][];
        for (int v = 0; v < 2; v++) {
            reset.run();
            chain.accept(v);
            device.synchronize();
            for (int o = 0; o < outs.length; o++) {
                got[v][o] = new int[words[o]];
                if (words[o] > 0) {
                    outs[o].download(got[v][o], words[o]);
                }
            }
        }
        boolean equal = true;
        for (int o = 0; o < outs.length; o++) {
            equal &= java.util.Arrays.equals(got[0][o], got[1][o]);
        }
        return new BothWays(equal, new long[] {graphNanos(chain, 0, CHOICE_REPS), graphNanos(chain, 1, CHOICE_REPS)});
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
     * The attention kernels of one block (or warp) per (token, query head): attention_vec for power-of-two head sizes,
     * attention otherwise. out [n, qDim] from q [n, qDim] and one layer's paged keys/values.
     */
    private void launchPerHeadAttention(boolean f16Kv, Object qIn, Object keys, Object values, Object positions,
                                        Object seq, Object tables, int maxBlocks, int bs, Object out, int n) {
        int heads = config.nHeads();
        int headDim = config.headDim();
        float scale = (float) (1.0 / Math.sqrt(headDim));
        if (vectorAttention(headDim)) {
            k.launch(f16Kv ? "attention_vec_f16" : "attention_vec_f32", n * heads, 1, 32 * ATT_WARPS, 0, qIn, keys,
                    values, positions, seq, tables, maxBlocks, bs, out, n, heads, config.nKvHeads(), headDim, scale);
        } else {
            int warpsPerBlock = 4;
            k.launch(f16Kv ? "attention_f16" : "attention_f32", (n * heads + warpsPerBlock - 1) / warpsPerBlock, 1,
                    32 * warpsPerBlock, warpsPerBlock * headDim * 4, qIn, keys, values, positions, seq, tables,
                    maxBlocks, bs, out, n, heads, config.nKvHeads(), headDim, scale);
        }
    }

    /**
     * Decides the attention kernel and the norm kernels at load, like {@link #chooseDeepSplit}: each new kernel runs
     * next to the proven one on the same random inputs and is adopted only when its results are within a float
     * tolerance of the old one's (max abs difference over max abs value; the order of the sums differs, a wrong
     * index gives errors of order 1) and it is faster, timed as CUDA graph replays.
     * <ul>
     * <li>Attention: up to 64 decode tokens of as many sequences, contexts 1..192 (0, 15, 16, 17 and 191 among the
     * positions), blocks of 16 over interleaved block tables, F16 and F32 KV (both compared, F16 timed, as the
     * engine runs); tolerance 1e-4. -Dinferstream.cuda.attention=split|old forces it.</li>
     * <li>Norms: rmsnorm_vec and add_rmsnorm_vec against rmsnorm and add_rmsnorm on the same rows; tolerance 1e-5.
     * -Dinferstream.cuda.norm=vec|old forces them.</li>
     * </ul>
     * {@link #attentionChoice()} (printed by the bench) says what was chosen, with both timings and the difference.
     */
    private void chooseAttention() {
        int n = Math.min(64, capacity);
        StringBuilder why = new StringBuilder();
        String forcedNorm = System.getProperty("inferstream.cuda.norm");
        if (!vectorNormFits(config.dim())) {
            why.append("norms: rmsnorm (dim ").append(config.dim()).append(" does not fit the vectorised kernels)");
        } else if (forcedNorm != null) {
            useVectorNorm("vec".equals(forcedNorm));
            why.append("norms: ").append(vectorNorm ? "rmsnorm_vec" : "rmsnorm")
                    .append(" (forced by -Dinferstream.cuda.norm=").append(forcedNorm).append(")");
        } else {
            try {
                compareNorms(n, why);
            } catch (RuntimeException e) { // a launch the driver refuses: keep the proven kernels
                useVectorNorm(false);
                why.append("norms: rmsnorm (rmsnorm_vec failed at load: ").append(e.getMessage()).append(")");
            }
        }
        why.append("; ");
        String forced = System.getProperty("inferstream.cuda.attention");
        String perHead = vectorAttention(config.headDim()) ? "attention_vec" : "attention";
        if (splitAttention == null) {
            why.append("attention: ").append(perHead).append(" (split kernel: ")
                    .append(SplitAttention.unsupported(config.nHeads(), config.nKvHeads(), config.headDim()))
                    .append("; not compared)");
        } else if (forced != null) {
            useSplitAttention("split".equals(forced));
            why.append("attention: ").append(useSplitAttention ? "attention_split" : perHead)
                    .append(" (forced by -Dinferstream.cuda.attention=").append(forced).append(")");
        } else {
            try {
                compareAttention(n, perHead, why);
            } catch (RuntimeException e) { // a launch the driver refuses: keep the proven kernel
                useSplitAttention(false);
                why.append("attention: ").append(perHead).append(" (attention_split failed at load: ")
                        .append(e.getMessage()).append(")");
            }
        }
        attentionChoice = why.toString();
    }

    private void compareAttention(int n, String perHead, StringBuilder why) {
        int bs = AttentionFixture.BLOCK_SIZE;
        int maxBlocks = AttentionFixture.MAX_BLOCKS;
        List<DeviceBuffer> temp = new ArrayList<>();
        try (AttentionFixture fx = new AttentionFixture(n, qDim, config.kvDim(), 17)) {
            DeviceBuffer qd = fx.q;
            DeviceBuffer k16 = fx.keys16;
            DeviceBuffer v16 = fx.values16;
            DeviceBuffer k32 = fx.keys32;
            DeviceBuffer v32 = fx.values32;
            DeviceBuffer out = temp(temp, 4L * n * qDim, null);
            var positions = fx.positions();
            var seq = fx.seq();
            var tables = fx.tables();
            float scale = (float) (1.0 / Math.sqrt(config.headDim()));
            int splits = SplitAttention.splits(n, config.nKvHeads());
            double worst = 0;
            for (int p = 0; p < 2; p++) {
                boolean f16 = p == 0;
                float[][] got = new float[2][n * qDim];
                for (int v = 0; v < 2; v++) {
                    if (v == 0) {
                        launchPerHeadAttention(f16, qd, f16 ? k16 : k32, f16 ? v16 : v32, positions, seq, tables,
                                maxBlocks, bs, out, n);
                    } else {
                        splitAttention.launch(k, f16, qd, f16 ? k16 : k32, f16 ? v16 : v32, positions, seq, tables,
                                maxBlocks, bs, out, n, scale, splits);
                    }
                    device.synchronize();
                    out.download(got[v], got[v].length);
                }
                worst = Math.max(worst, relativeDifference(got[1], got[0]));
            }
            java.util.function.IntConsumer launches = v -> {
                if (v == 0) {
                    launchPerHeadAttention(true, qd, k16, v16, positions, seq, tables, maxBlocks, bs, out, n);
                } else {
                    splitAttention.launch(k, true, qd, k16, v16, positions, seq, tables, maxBlocks, bs, out, n, scale, splits);
                }
            };
            int reps = 20;
            long[] nanos = timed(launches, reps);
            boolean close = worst <= 1e-4;
            useSplitAttention(close && nanos[1] < nanos[0]);
            why.append(String.format(java.util.Locale.ROOT,
                    "attention: %s (%d decode tokens, contexts 1..%d, F16 KV, %d splits, %d CUDA graph replays: %s %.1f us, "
                            + "attention_split %.1f us; max relative difference %.2e over F16 and F32 KV%s)",
                    useSplitAttention ? "attention_split" : perHead, n, maxBlocks * bs, splits, reps, perHead,
                    nanos[0] / 1e3 / reps, nanos[1] / 1e3 / reps, worst, close ? "" : ": DIFFER, split kernel not used"));
        } finally {
            for (DeviceBuffer b : temp) {
                b.close();
            }
        }
    }

    private void compareNorms(int n, StringBuilder why) {
        int dim = config.dim();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(19);
        float[] xs = new float[n * dim];
        float[] ys = new float[n * dim];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rnd.nextDouble(-1, 1);
            ys[i] = (float) rnd.nextDouble(-1, 1);
        }
        List<DeviceBuffer> temp = new ArrayList<>();
        try {
            DeviceBuffer xd = temp(temp, 4L * xs.length, xs);
            DeviceBuffer yd = temp(temp, 4L * ys.length, ys);
            DeviceBuffer o1 = temp(temp, 4L * xs.length, null);
            DeviceBuffer o2 = temp(temp, 4L * xs.length, null);
            java.util.function.IntConsumer launches = v -> {
                k.launch(v == 0 ? "rmsnorm" : "rmsnorm_vec", n, 1, 256, 0, xd, null, attnNorm[0], o1, dim, config.rmsEps());
                k.launch(v == 0 ? "add_rmsnorm" : "add_rmsnorm_vec", n, 1, 256, 0, xd, yd, ffnNorm[0], o2, dim,
                        config.rmsEps());
            };
            double worst = 0;
            float[][][] got = new float[2][3][xs.length];
            for (int v = 0; v < 2; v++) {
                xd.upload(xs, xs.length);
                launches.accept(v);
                device.synchronize();
                o1.download(got[v][0], xs.length);
                o2.download(got[v][1], xs.length);
                xd.download(got[v][2], xs.length);
            }
            for (int o = 0; o < 3; o++) {
                worst = Math.max(worst, relativeDifference(got[1][o], got[0][o]));
            }
            int reps = 20;
            long[] nanos = timed(launches, reps);
            boolean close = worst <= 1e-5;
            useVectorNorm(close && nanos[1] < nanos[0]);
            why.append(String.format(java.util.Locale.ROOT,
                    "norms: %s (rmsnorm + add_rmsnorm of %d rows, %d CUDA graph replays: %.1f us, vectorised %.1f us; "
                            + "max relative difference %.2e%s)", vectorNorm ? "rmsnorm_vec" : "rmsnorm", n, reps,
                    nanos[0] / 1e3 / reps, nanos[1] / 1e3 / reps, worst, close ? "" : ": DIFFER, not used"));
        } finally {
            for (DeviceBuffer b : temp) {
                b.close();
            }
        }
    }

    /** A scratch buffer of the load-time choices, registered in {@code temp} (freed by the caller), with data if given. */
    private static DeviceBuffer temp(List<DeviceBuffer> temp, long bytes, float[] data) {
        DeviceBuffer b = DeviceBuffer.allocate(bytes, "load-time kernel choice");
        temp.add(b);
        if (data != null) {
            b.upload(data, data.length);
        }
        return b;
    }

    /** Nanoseconds of {@code reps} runs of variants 0 and 1, as CUDA graph replays (eager where recording fails). */
    private long[] timed(java.util.function.IntConsumer launches, int reps) {
        long[] nanos = new long[2];
        for (int v = 0; v < 2; v++) {
            long t = graphNanos(launches, v, reps);
            if (t < 0) {
                launches.accept(v);
                device.synchronize();
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    launches.accept(v);
                }
                device.synchronize();
                t = System.nanoTime() - t0;
            }
            nanos[v] = t;
        }
        return nanos;
    }

    /** Whether the vectorised norms (rmsnorm_vec, add_rmsnorm_vec: float4 pieces, at most 4 per thread of 256) fit dim. */
    static boolean vectorNormFits(int dim) {
        return dim % 4 == 0 && dim <= 4 * 256 * 4;
    }

    /**
     * Whether attention runs the split-context kernel (SplitAttention). Chosen at load by {@link #chooseAttention};
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
        if (on && !vectorNormFits(config.dim())) {
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

    /** What {@link #chooseAttention} decided for attention and the norms, with the timings and differences. */
    public synchronized String attentionChoice() {
        return attentionChoice;
    }

    /** Head sizes attention_vec serves: 8 dims per lane, a power-of-two number of lanes per position. */
    static boolean vectorAttention(int headDim) {
        return headDim >= 8 && headDim <= MAX_HEAD_DIM && Integer.bitCount(headDim) == 1;
    }

    private static int blocks(int count) {
        return Math.max(1, Math.min((count + 255) / 256, 65535));
    }

    private String embedName(DeviceMatrix e) {
        return switch (e.type()) {
            case F32 -> "embed_f32";
            case F16 -> "embed_f16";
            case BF16 -> "embed_bf16";
            case Q8_0 -> "embed_q8_0";
            default -> throw new AssertionError(e.type());
        };
    }

    private Object embeddingData() {
        return embedding.data();
    }

    private Object embeddingScales() {
        return embedding.scales();
    }

    private void validate(TokenBatch batch, KvStore kv) {
        if (kv.nLayers() != config.nLayers() || kv.kvDim() != config.kvDim()) {
            throw new IllegalArgumentException("KV store of " + kv.nLayers() + " layers x " + kv.kvDim()
                    + " does not fit this model (" + config.nLayers() + " layers x " + config.kvDim() + ")");
        }
        if (batch.size() == 0) {
            throw new IllegalArgumentException("empty batch");
        }
        for (int r : batch.logitRows()) {
            if (r < 0 || r >= batch.size()) {
                throw new IllegalArgumentException("logit row " + r + " is not one of the batch's " + batch.size() + " tokens");
            }
        }
        int bs = kv.blockSize();
        for (int t = 0; t < batch.size(); t++) {
            int token = batch.tokens()[t];
            int pos = batch.positions()[t];
            if (token < 0 || token >= config.vocabSize()) {
                throw new IllegalArgumentException("token " + token + " at batch index " + t
                        + " is outside the vocabulary of " + config.vocabSize());
            }
            int s = batch.seq()[t];
            if (s < 0 || s >= batch.blockTables().length) {
                throw new IllegalArgumentException("sequence " + s + " of batch index " + t + " has no block table");
            }
            int[] table = batch.blockTables()[s];
            if (pos < 0 || pos / bs >= table.length) {
                throw new IllegalArgumentException("position " + pos + " of sequence " + s
                        + " has no KV block in its block table of " + table.length + " blocks");
            }
            // Attention reads every block up to the position: all must be real blocks of this store.
            for (int b = 0; b <= pos / bs; b++) {
                if (table[b] < 0 || table[b] >= kv.numBlocks()) {
                    throw new IllegalArgumentException("block table of sequence " + s + " names block " + table[b]
                            + " at index " + b + "; the store has " + kv.numBlocks() + " blocks");
                }
            }
        }
    }

    private void ensureCapacity(int n) {
        if (n <= capacity) {
            return;
        }
        int c = Math.max(n, capacity * 2);
        closeScratch();
        long f = 4L * c;
        x = DeviceBuffer.allocate(f * config.dim(), "activations x");
        xb = DeviceBuffer.allocate(f * config.dim(), "activations xb");
        q = DeviceBuffer.allocate(f * qDim, "activations q");
        kBuf = DeviceBuffer.allocate(f * config.kvDim(), "activations k");
        vBuf = DeviceBuffer.allocate(f * config.kvDim(), "activations v");
        att = DeviceBuffer.allocate(f * qDim, "activations att");
        hb = DeviceBuffer.allocate(f * config.hiddenDim(), "activations hb");
        hb2 = DeviceBuffer.allocate(f * config.hiddenDim(), "activations hb2");
        logits = DeviceBuffer.allocate(f * config.vocabSize(), "logits");
        candidates = DeviceBuffer.allocate(f * (2L * LogitCandidates.MAX_K + 2), "logit candidates");
        int chunks = headChunks(config.vocabSize());
        headScratch = chunks == 0 ? null
                : DeviceBuffer.allocate(f * chunks * (2L * LogitCandidates.MAX_K + 2), "argmax / top-k chunk scratch");
        intsCapacity = 5 * c + 1024;
        ints = DeviceBuffer.allocate(4L * intsCapacity, "step metadata");
        capacity = c;
        if (splitAttention != null) {
            splitAttention.ensure(c);
        }
        if (skinny != null && slicedPrefill) {
            skinny.sliceHalves(c, maxSliceCols());
        }
        bufferGeneration++;
    }

    private void closeScratch() {
        for (DeviceBuffer b : new DeviceBuffer[] {x, xb, q, kBuf, vBuf, att, hb, hb2, logits, candidates, headScratch, ints}) {
            if (b != null) {
                b.close();
            }
        }
    }

    @Override
    public synchronized void close() {
        device.makeCurrent();
        destroyGraphs();
        if (skinny != null) {
            skinny.close();
            skinny = null;
        }
        if (graphStream != null) {
            cuStreamDestroy(graphStream);
            graphStream = null;
        }
        closeScratch();
        capacity = 0;
        if (splitAttention != null) {
            splitAttention.close();
        }
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("freeing device memory failed", e);
            }
        }
        owned.clear();
    }

    @Override
    public String toString() {
        return "CudaLlamaModel[" + config.architecture() + ", " + config.nLayers() + " layers, dim " + config.dim()
                + ", " + MemoryPlan.gib(weightBytes) + " of weights on " + device + "]";
    }
}

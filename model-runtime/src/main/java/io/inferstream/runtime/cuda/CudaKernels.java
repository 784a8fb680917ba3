package io.inferstream.runtime.cuda;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * The kernels of src/main/cuda, loaded from the packaged PTX (resources /cuda/*.ptx, compute_80; on compute capability
 * 9.x also {@link #WGMMA_MODULE}, sm_90a, and the compute_90 {@link #SM90_TWINS}) with cuModuleLoadData, which
 * JIT-compiles them for the device at hand; and a launcher that boxes arguments (through {@link ProgrammaticLaunch}
 * for the kernels that wait for their predecessor, when {@link #useProgrammatic} is on).
 */
public final class CudaKernels implements AutoCloseable {

    static final Map<String, String[]> MODULES = Map.of(
            "elementwise", new String[] {"embed_f32", "embed_f16", "embed_bf16", "embed_q8_0", "embed_q4_k", "embed_q6_k", "rmsnorm", "rope",
                "add_bias", "add_inplace", "swiglu", "geglu", "scale_inplace", "softcap_inplace", "kv_store_f32", "kv_store_f16", "add_rmsnorm", "rope_kv_store_f32",
                "rope_kv_store_f16", "rmsnorm_vec", "add_rmsnorm_vec", "add_rmsnorm_splitk_vec",
                "rmsnorm_vec_h_bf16", "rmsnorm_vec_h_f16", "add_rmsnorm_vec_h_bf16", "add_rmsnorm_vec_h_f16",
                "add_rmsnorm_splitk_vec_h_bf16", "add_rmsnorm_splitk_vec_h_f16", "splitk_reduce_rope_kv_f32",
                "splitk_reduce_rope_kv_f16"},
            "matmul", new String[] {"matvec_f32", "matvec_f16", "matvec_bf16", "matvec_q8_0", "matvec_q4_k",
                "matvec_q6_k", "matmul_tiled_f32", "matmul_tiled_f16", "matmul_tiled_bf16", "matmul_tiled_q8_0",
                "matmul_tiled_q4_k", "matmul_tiled_q6_k", "matmul_wmma_f16", "matmul_wmma_bf16",
                "matvec_vec_f16", "matvec_vec_bf16", "matvec3_vec_f16",
                "matvec3_vec_bf16", "to_half_padded_f16", "to_half_padded_bf16", "matmul_skinny_f16", "matmul_skinny_bf16",
                "matmul_skinny_smem_f16", "matmul_skinny_smem_bf16", "matmul_skinny_pipe_f16", "matmul_skinny_pipe_bf16",
                "matmul_skinny_group_f16", "matmul_skinny_group_bf16", "splitk_reduce", "splitk_reduce_group",
                "splitk_reduce_swiglu", "splitk_reduce_swiglu_h_bf16", "splitk_reduce_swiglu_h_f16"},
            "attention", new String[] {"attention_f32", "attention_f16", "attention_vec_f32", "attention_vec_f16",
                "attention_split_f16_g1", "attention_split_f16_g2", "attention_split_f16_g4", "attention_split_f16_g8",
                "attention_split_f32_g1", "attention_split_f32_g2", "attention_split_f32_g4", "attention_split_f32_g8",
                "attention_split_pf_f16_g1", "attention_split_pf_f16_g2", "attention_split_pf_f16_g4",
                "attention_split_pf_f16_g8", "attention_split_pf_f32_g1", "attention_split_pf_f32_g2",
                "attention_split_pf_f32_g4", "attention_split_pf_f32_g8", "attention_split_combine", "attention_tiled_f16_d64", "attention_tiled_f16_d128",
                "attention_tiled_f32_d64", "attention_tiled_f32_d128"},
            "sampling", new String[] {"argmax_rows", "argmax_chunks", "argmax_merge", "topk_rows", "topk_chunks", "topk_merge",
                "top1_chunks", "top1_merge"},
            "stream", new String[] {"matmul_stream_f16", "matmul_stream_bf16", "matmul_stream_group_f16",
                "matmul_stream_group_bf16", "matmul_stream_wide_f16", "matmul_stream_wide_bf16",
                "matmul_stream_wide_group_f16", "matmul_stream_wide_group_bf16", "matmul_stream_packed_f16",
                "matmul_stream_packed_bf16", "matmul_stream_wide_packed_f16", "matmul_stream_wide_packed_bf16",
                "matmul_stream_packed_group_f16", "matmul_stream_packed_group_bf16", "matmul_stream_wide_packed_group_f16",
                "matmul_stream_wide_packed_group_bf16", "matmul_stream_tall_packed_f16", "matmul_stream_tall_packed_bf16",
                "matmul_stream_tall_packed_group_f16", "matmul_stream_tall_packed_group_bf16", "pack_stream_weights",
                "matmul_stream_slices_f16", "matmul_stream_slices_bf16", "matmul_stream_packed_slices_f16",
                "matmul_stream_packed_slices_bf16", "matmul_stream_tall_packed_slices_f16", "matmul_stream_tall_packed_slices_bf16",
                "matmul_stream_q8", "matmul_stream_q8_slices", "matmul_stream_q4_k", "matmul_stream_q4_k_slices",
                "half_block_sums", "matmul_stream_q6_k", "matmul_stream_q6_k_slices"},
            "prefetch", new String[] {"l2_prefetch"},
            "experts", new String[] {"moe_route", "moe_group", "moe_gate_up_f16", "moe_gate_up_bf16", "moe_down_f16",
                "moe_down_bf16", "moe_quant_gate_up_q8_0", "moe_quant_down_q8_0", "moe_quant_gate_up_q4_k",
                "moe_quant_down_q4_k", "moe_quant_gate_up_q6_k", "moe_quant_down_q6_k", "moe_combine", "moe_mma_gate_up_f16", "moe_mma_gate_up_bf16",
                "moe_mma_down_f16", "moe_mma_down_bf16", "moe_quant_mma_gate_up_q8_0", "moe_quant_mma_down_q8_0",
                "moe_quant_mma_gate_up_q4_k", "moe_quant_mma_down_q4_k", "moe_quant_mma_gate_up_q6_k", "moe_quant_mma_down_q6_k"});

    /**
     * The module compiled from stream.cu for sm_90a (wgmma.cuh): the 16-bit streaming products on packed weights on
     * Hopper's warpgroup MMAs, under the same names and parameters as in "stream" but reading their own packing
     * ({@code pack_stream_weights_wg}). Loaded on compute capability 9.x only (sm_90a code runs nowhere else); its
     * kernels are launched as {@link #WGMMA} + name.
     */
    static final String WGMMA_MODULE = "stream_wgmma";

    /** The prefix that sends a launch to {@link #WGMMA_MODULE}. */
    public static final String WGMMA = "wgmma:";

    /** The kernels of {@link #WGMMA_MODULE}: those of "stream" that multiply packed 16-bit weights, and its packer. */
    static final java.util.Set<String> WGMMA_KERNELS = java.util.stream.Stream.concat(
            java.util.Arrays.stream(MODULES.get("stream"))
                    .filter(n -> n.startsWith("matmul_stream") && n.contains("packed") && (n.endsWith("_bf16") || n.endsWith("_f16"))),
            java.util.stream.Stream.of("pack_stream_weights_wg"))
            .collect(java.util.stream.Collectors.toUnmodifiableSet());

    /**
     * The modules compiled for compute_90 (ptx.sh): elementwise, attention, matmul and stream again, their kernels that
     * start with common.cuh's pdl_enter (the norms before the products, the split and tiled attention, the split-K
     * reductions and their epilogues) or, for the 16-bit streaming products, wait after their first weight loads, then
     * carrying the programmatic-launch instructions. Loaded on 9.x; used for those kernels under
     * {@link #useProgrammatic}.
     */
    static final List<String> SM90_TWINS = List.of("elementwise", "attention", "matmul", "stream");

    private final List<CUmodule> modules = new ArrayList<>();
    // kernels that wait for their predecessor (griddepcontrol.wait in their PTX), by launch name: the sm90 twins'
    // functions and the sm_90a products; launched with the programmatic attribute under useProgrammatic(true)
    private final Map<String, CUfunction> programmatic = new HashMap<>();
    private ProgrammaticLaunch launcher;
    private String programmaticStatus = "the device is not compute capability 9.x (programmatic launch needs 9.0)";
    private boolean programmaticOn;
    private String legacyStreamRefusal; // why the legacy default stream refused a programmatic launch, if it did
    private final Map<String, CUfunction> functions = new HashMap<>();
    private String wgmmaStatus = "the device is not compute capability 9.x (wgmma is sm_90a only)";
    private final KernelSignatures signatures = new KernelSignatures();
    private CUstream stream; // null: the legacy default stream; a capture stream while a CUDA graph is recorded
    private long launched; // kernel launches so far (recorded into a graph or run)

    private CudaKernels() {
    }

    /** Blocks of 256 threads for {@code count} elements, one element a thread (grid-stride loops cover the rest past 65535). */
    static int blocks(int count) {
        return Math.max(1, Math.min((count + 255) / 256, 65535));
    }

    /** The kernels for a device of compute capability {@code computeMajor}.x. */
    static CudaKernels load(int computeMajor) {
        CudaKernels k = new CudaKernels();
        for (Map.Entry<String, String[]> e : MODULES.entrySet()) {
            byte[] ptx = ptx(e.getKey());
            k.signatures.add(new String(ptx, 0, ptx.length - 1, java.nio.charset.StandardCharsets.US_ASCII));
            CUmodule module = k.loadModule(e.getKey(), ptx);
            for (String fn : e.getValue()) {
                CUfunction f = new CUfunction();
                cuModuleGetFunction(f, module, fn);
                k.functions.put(fn, f);
            }
        }
        if (computeMajor == 9) {
            // Never fails the device: without it the products run on mma.sync as everywhere else.
            try {
                byte[] ptx = ptx(WGMMA_MODULE);
                CUmodule module = k.loadModule(WGMMA_MODULE, ptx);
                Map<String, CUfunction> loaded = new HashMap<>();
                for (String fn : WGMMA_KERNELS) {
                    CUfunction f = new CUfunction();
                    cuModuleGetFunction(f, module, fn);
                    loaded.put(WGMMA + fn, f);
                }
                String text = new String(ptx, 0, ptx.length - 1, java.nio.charset.StandardCharsets.US_ASCII);
                k.signatures.add(text);
                k.functions.putAll(loaded);
                k.wgmmaStatus = null;
                for (String fn : waitingEntries(text)) {
                    k.programmatic.put(WGMMA + fn, loaded.get(WGMMA + fn));
                }
            } catch (RuntimeException ex) {
                k.wgmmaStatus = WGMMA_MODULE + ".ptx did not load: " + ex;
                System.err.println("[cuda] " + k.wgmmaStatus);
            }
            k.loadProgrammatic();
        }
        return k;
    }

    /** The sm90 twins' waiting kernels and the driver's cuLaunchKernelEx; never fails the device (the status says why). */
    private void loadProgrammatic() {
        ProgrammaticLaunch.Opened opened = ProgrammaticLaunch.openDriver(); // first: without it the twins are not needed
        if (opened.launcher() == null) {
            programmaticStatus = opened.reason();
            System.err.println("[cuda] programmatic launches unavailable: " + programmaticStatus);
            return;
        }
        try {
            Map<String, CUfunction> twins = new HashMap<>();
            for (String base : SM90_TWINS) {
                byte[] ptx = ptx(base + "_sm90");
                CUmodule module = loadModule(base + "_sm90", ptx);
                List<String> names = List.of(MODULES.get(base));
                for (String fn : waitingEntries(new String(ptx, 0, ptx.length - 1, java.nio.charset.StandardCharsets.US_ASCII))) {
                    if (names.contains(fn)) {
                        CUfunction f = new CUfunction();
                        cuModuleGetFunction(f, module, fn);
                        twins.put(fn, f);
                    }
                }
            }
            programmatic.putAll(twins);
            launcher = opened.launcher();
            programmaticStatus = null;
        } catch (RuntimeException ex) {
            programmaticStatus = "the compute_90 modules did not load: " + ex;
        }
        if (programmaticStatus != null) {
            System.err.println("[cuda] programmatic launches unavailable: " + programmaticStatus);
        }
    }

    /** The .entry names of a PTX module whose bodies hold griddepcontrol.wait (they wait for their predecessor). */
    static java.util.Set<String> waitingEntries(String ptx) {
        java.util.Set<String> names = new java.util.TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\.entry\\s+([A-Za-z_0-9]+)\\s*\\(").matcher(ptx);
        String name = null;
        int start = 0;
        while (true) {
            boolean more = m.find();
            if (name != null && ptx.substring(start, more ? m.start() : ptx.length()).contains("griddepcontrol.wait")) {
                names.add(name);
            }
            if (!more) {
                break;
            }
            name = m.group(1);
            start = m.start();
        }
        return names;
    }

    /** Whether kernels can be launched programmatically here (see {@link #programmaticStatus}). */
    public boolean programmaticAvailable() {
        return programmaticStatus == null && launcher != null && !programmatic.isEmpty();
    }

    /**
     * Whether this JVM can launch programmatically at all (Java 17 with jdk.incubator.foreign loaded, or Java 21 and
     * later); on a 9.x device it then does unless the driver or the compute_90 modules refuse.
     */
    public static boolean programmaticJvm() {
        return ProgrammaticLaunch.jvmCapable();
    }

    /** Why programmatic launches are unavailable, or null when they are. */
    public String programmaticStatus() {
        return programmaticStatus;
    }

    /** Why the legacy default stream refused a programmatic launch (eager launches then go out as usual), or null. */
    public String legacyStreamRefusal() {
        return legacyStreamRefusal;
    }

    /**
     * Launches the kernels that wait for their predecessor (the sm90 twins of the norms, attention and reductions,
     * and the sm_90a products) with the programmatic-serialization attribute, or (off) as before.
     */
    void useProgrammatic(boolean on) {
        if (on && !programmaticAvailable()) {
            throw new IllegalStateException("programmatic launches are unavailable: " + programmaticStatus);
        }
        programmaticOn = on;
    }

    /** Whether {@link #useProgrammatic} is on. */
    boolean programmatic() {
        return programmaticOn;
    }

    /** The launch names of the kernels that would launch programmatically. */
    java.util.Set<String> programmaticKernels() {
        return java.util.Collections.unmodifiableSet(programmatic.keySet());
    }

    private CUmodule loadModule(String name, byte[] ptx) {
        CUmodule module = new CUmodule();
        try {
            cuModuleLoadData(module, ptx);
        } catch (jcuda.CudaException ex) {
            if (!String.valueOf(ex.getMessage()).contains("UNSUPPORTED_PTX_VERSION")) {
                throw ex;
            }
            // A driver older than the nvcc that wrote the PTX (CUDA 12.x under nvcc 13): the kernels use
            // nothing newer than PTX ISA 8.0, so declare that version and let this driver JIT them.
            System.err.println("[cuda] driver does not know the PTX ISA of " + name + ".ptx; retrying as PTX ISA 8.0");
            cuModuleLoadData(module, withPtxVersion(ptx, "8.0"));
        }
        modules.add(module);
        return module;
    }

    /** Whether the sm_90a module with the warpgroup-MMA products is loaded (see {@link #wgmmaStatus}). */
    public boolean wgmmaAvailable() {
        return wgmmaStatus == null;
    }

    /** Why the warpgroup-MMA products are not available, or null when they are. */
    public String wgmmaStatus() {
        return wgmmaStatus;
    }

    /** The PTX with its {@code .version} directive replaced. */
    static byte[] withPtxVersion(byte[] ptx, String version) {
        String text = new String(ptx, 0, ptx.length - 1, java.nio.charset.StandardCharsets.US_ASCII);
        String replaced = text.replaceFirst("(?m)^\\.version [0-9.]+$", ".version " + version);
        byte[] t = replaced.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] z = new byte[t.length + 1];
        System.arraycopy(t, 0, z, 0, t.length);
        return z;
    }

    /** The NUL-terminated PTX text of a module. */
    private static byte[] ptx(String module) {
        String resource = "/cuda/" + module + ".ptx";
        try (InputStream in = CudaKernels.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("PTX resource " + resource + " is missing from the classpath");
            }
            byte[] text = in.readAllBytes();
            byte[] z = new byte[text.length + 1];
            System.arraycopy(text, 0, z, 0, text.length);
            return z;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read PTX resource " + resource, e);
        }
    }

    /** Sends the following launches to {@code s} (null: back to the default stream). */
    void stream(CUstream s) {
        this.stream = s;
    }

    /**
     * Launches {@code kernel} on the current stream (the default stream unless a graph is being captured). Arguments: {@link DeviceBuffer} or {@link CUdeviceptr}
     * (device pointers; null passes a null pointer), Integer, Long, Float.
     */
    public void launch(String kernel, int gridX, int gridY, int block, int sharedBytes, Object... args) {
        CUfunction f = functions.get(kernel);
        if (f == null) {
            throw new IllegalArgumentException("no CUDA kernel named " + kernel
                    + (kernel.startsWith(WGMMA) ? " (" + wgmmaStatus + ")" : ""));
        }
        String name = kernel.startsWith(WGMMA) ? kernel.substring(WGMMA.length()) : kernel; // the same parameters
        signatures.check(name, args);
        signatures.checkBlock(name, block);
        CUfunction waiting = programmaticOn ? programmatic.get(kernel) : null;
        if (waiting != null) {
            if (stream != null || legacyStreamRefusal == null) {
                try {
                    launcher.launch(NativeHandles.address(waiting), gridX, gridY, block, sharedBytes, NativeHandles.address(stream), args);
                    launched++;
                    return;
                } catch (jcuda.CudaException e) {
                    if (stream != null) {
                        throw e;
                    }
                    // a driver may refuse the attribute on the legacy default stream (eager steps): launch those as
                    // usual from now on (the wait is then a no-op); captured graphs keep it
                    legacyStreamRefusal = e.getMessage();
                    System.err.println("[cuda] programmatic launches on the legacy default stream refused (" + e.getMessage()
                            + "); eager launches go out as usual");
                }
            }
            f = waiting;
        }
        Pointer[] ps = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a == null) {
                ps[i] = Pointer.to(new CUdeviceptr());
            } else if (a instanceof DeviceBuffer b) {
                ps[i] = Pointer.to(b.pointer());
            } else if (a instanceof CUdeviceptr p) {
                ps[i] = Pointer.to(p);
            } else if (a instanceof Integer v) {
                ps[i] = Pointer.to(new int[] {v});
            } else if (a instanceof Long v) {
                ps[i] = Pointer.to(new long[] {v});
            } else if (a instanceof Float v) {
                ps[i] = Pointer.to(new float[] {v});
            } else {
                throw new IllegalArgumentException(kernel + ": argument " + i + " of type " + a.getClass().getName()
                        + " cannot be passed to a kernel");
            }
        }
        synchronized (ContextLock.current()) { // eager launches use the legacy stream
            cuLaunchKernel(f, gridX, gridY, 1, block, 1, 1, sharedBytes, stream, Pointer.to(ps), null);
        }
        launched++;
    }

    /** Kernel launches made through {@link #launch} so far, eager or recorded into a CUDA graph. */
    public long launched() {
        return launched;
    }

    @Override
    public void close() {
        for (CUmodule m : modules) {
            cuModuleUnload(m);
        }
        modules.clear();
        functions.clear();
    }
}

package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** The packaged PTX (no GPU needed): present for every module, compute_80, and its ISA version rewritable. */
class CudaKernelsTest {

    @Test
    void everyModuleIsPackagedAsPtxForComputeCapability80() throws IOException {
        for (String module : CudaKernels.MODULES.keySet()) {
            try (InputStream in = CudaKernels.class.getResourceAsStream("/cuda/" + module + ".ptx")) {
                assertTrue(in != null, module + ".ptx is packaged");
                String ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                assertTrue(ptx.contains("\n.target sm_80\n"), module + " targets sm_80");
                assertTrue(ptx.contains(".entry "), module + " has kernels");
            }
        }
    }

    @Test
    void theKernelsTheLoaderLooksUpAreExactlyThePtxEntries() throws IOException {
        for (var e : CudaKernels.MODULES.entrySet()) {
            try (InputStream in = CudaKernels.class.getResourceAsStream("/cuda/" + e.getKey() + ".ptx")) {
                String ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
                java.util.Set<String> entries = new java.util.TreeSet<>();
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\.entry ([A-Za-z0-9_]+)\\(").matcher(ptx);
                while (m.find()) {
                    entries.add(m.group(1));
                }
                assertEquals(entries, new java.util.TreeSet<>(java.util.List.of(e.getValue())), e.getKey() + ".ptx");
            }
        }
    }

    @Test
    void theWarpgroupModuleHoldsThePacked16BitStreamingProductsForSm90aWithTheSameParameters() throws IOException {
        String wg = ptx(CudaKernels.WGMMA_MODULE);
        String base = ptx("stream");
        assertTrue(wg.contains("\n.target sm_90a\n"), "stream_wgmma targets sm_90a (wgmma exists nowhere else)");
        assertTrue(wg.contains("wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16"), "bf16 warpgroup MMAs");
        assertTrue(wg.contains("wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16"), "f16 warpgroup MMAs");
        assertTrue(!base.contains("wgmma"), "the compute_80 module has none");
        assertEquals(new java.util.TreeSet<>(CudaKernels.WGMMA_KERNELS), entries(wg).keySet(), "stream_wgmma.ptx entries");
        assertEquals(17, CudaKernels.WGMMA_KERNELS.size(), "6 products, 6 grouped, 4 slices on packed weights; the packer");
        for (String kernel : CudaKernels.WGMMA_KERNELS) {
            String twin = kernel.equals("pack_stream_weights_wg") ? "pack_stream_weights" : kernel;
            assertEquals(entries(base).get(twin), entries(wg).get(kernel), kernel + ": the parameters of " + twin);
        }
    }

    @Test
    void theComputeCapability9TwinsHoldTheSameKernelsAndOnlyTheChosenOnesWaitForTheirPredecessor() throws IOException {
        java.util.Set<String> waiting = new java.util.TreeSet<>();
        for (String base : CudaKernels.SM90_TWINS) {
            String twin = ptx(base + "_sm90");
            assertTrue(twin.contains(".target sm_90"), base + "_sm90.ptx targets compute capability 9.0");
            assertEquals(entries(ptx(base)), entries(twin), base + "_sm90.ptx: the same kernels with the same parameters");
            java.util.Set<String> w = CudaKernels.waitingEntries(twin);
            // every kernel that waits also lets the next one be scheduled early
            for (String k : w) {
                assertTrue(body(twin, k).contains("griddepcontrol.launch_dependents"), k + " triggers its dependents");
            }
            waiting.addAll(w);
        }
        java.util.Set<String> expected = new java.util.TreeSet<>(java.util.List.of("splitk_reduce", "attention_split_combine",
                "rmsnorm_vec_h_bf16", "rmsnorm_vec_h_f16", "add_rmsnorm_vec_h_bf16", "add_rmsnorm_vec_h_f16",
                "add_rmsnorm_splitk_vec_h_bf16", "add_rmsnorm_splitk_vec_h_f16", "splitk_reduce_group", "splitk_reduce_swiglu",
                "splitk_reduce_swiglu_h_bf16", "splitk_reduce_swiglu_h_f16", "splitk_reduce_rope_kv_f32",
                "splitk_reduce_rope_kv_f16", "rope_kv_store_f32", "rope_kv_store_f16", "add_inplace"));
        for (String k : CudaKernels.MODULES.get("stream")) { // every streaming product (not the packer, not the sums)
            if (k.startsWith("matmul_stream")) {
                expected.add(k);
            }
        }
        for (String k : CudaKernels.MODULES.get("attention")) {
            if (k.startsWith("attention_split_") && !k.equals("attention_split_combine") || k.startsWith("attention_tiled_")) {
                expected.add(k);
            }
        }
        assertEquals(expected, waiting, "the kernels of the twins that wait for their predecessor");
        // the sm_90a products all wait (after their first weight loads), its packer does not; compute_80 nothing
        String wg = ptx(CudaKernels.WGMMA_MODULE);
        java.util.Set<String> products = new java.util.TreeSet<>(CudaKernels.WGMMA_KERNELS);
        products.remove("pack_stream_weights_wg");
        assertEquals(products, CudaKernels.waitingEntries(wg), "stream_wgmma.ptx kernels that wait");
        for (String module : CudaKernels.MODULES.keySet()) {
            assertFalse(ptx(module).contains("griddepcontrol"), module + ".ptx (compute_80) has no programmatic-launch instructions");
        }
    }

    @Test
    void waitingEntriesAreFoundByTheirOwnBodies() {
        String ptx = ".visible .entry a(\n.param .u64 x\n)\n{\n ret;\n}\n.visible .entry b(\n)\n{\n griddepcontrol.wait;\n ret;\n}\n"
                + ".visible .entry c()\n{\n ret;\n}\n";
        assertEquals(java.util.Set.of("b"), CudaKernels.waitingEntries(ptx));
    }

    /** The text of one entry of a PTX module, up to the next entry. */
    private static String body(String ptx, String entry) {
        int at = ptx.indexOf(".entry " + entry + "(");
        int next = ptx.indexOf(".entry ", at + 1);
        return ptx.substring(at, next < 0 ? ptx.length() : next);
    }

    private static String ptx(String module) throws IOException {
        try (InputStream in = CudaKernels.class.getResourceAsStream("/cuda/" + module + ".ptx")) {
            assertTrue(in != null, module + ".ptx is packaged");
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    /** Each entry of a PTX module and its parameter types in order. */
    private static java.util.Map<String, java.util.List<String>> entries(String ptx) {
        java.util.Map<String, java.util.List<String>> out = new java.util.TreeMap<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\.entry ([A-Za-z0-9_]+)\\(([^)]*)\\)").matcher(ptx);
        while (m.find()) {
            java.util.List<String> types = new java.util.ArrayList<>();
            java.util.regex.Matcher p = java.util.regex.Pattern.compile("\\.param \\.([a-z0-9]+)").matcher(m.group(2));
            while (p.find()) {
                types.add(p.group(1));
            }
            out.put(m.group(1), types);
        }
        return out;
    }

    @Test
    void ptxVersionRewriteChangesOnlyTheVersionDirective() {
        String text = "//\n// Generated by NVIDIA NVVM Compiler\n//\n\n.version 9.0\n.target sm_80\n.address_size 64\n";
        byte[] z = (text + "\0").getBytes(StandardCharsets.US_ASCII);
        byte[] out = CudaKernels.withPtxVersion(z, "8.0");
        assertEquals(0, out[out.length - 1], "NUL-terminated");
        assertEquals(text.replace(".version 9.0", ".version 8.0"),
                new String(out, 0, out.length - 1, StandardCharsets.US_ASCII));
    }
}

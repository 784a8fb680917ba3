package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import jcuda.driver.CUdeviceptr;

/** Launch arguments checked against the packaged PTX's parameter lists (no GPU needed). */
class KernelSignaturesTest {

    private static final KernelSignatures SIGNATURES = new KernelSignatures();

    @BeforeAll
    static void parse() throws IOException {
        for (String module : CudaKernels.MODULES.keySet()) {
            try (InputStream in = CudaKernels.class.getResourceAsStream("/cuda/" + module + ".ptx")) {
                SIGNATURES.add(new String(in.readAllBytes(), StandardCharsets.US_ASCII));
            }
        }
    }

    @Test
    void everyKernelTheLoaderLooksUpHasItsParameters() {
        for (var e : CudaKernels.MODULES.entrySet()) {
            for (String kernel : e.getValue()) {
                List<String> types = SIGNATURES.of(kernel);
                assertNotNull(types, kernel);
                assertTrue(!types.isEmpty(), kernel + " has parameters");
                for (String t : types) {
                    assertTrue(List.of("u64", "u32", "s32", "f32").contains(t), kernel + ": ." + t);
                }
            }
        }
    }

    @Test
    void parametersAreReadInOrderWithTheirWidths() {
        // (x, y, w, out, xh, n, dim, eps) and (part, y, yh, n, npad, rows, splits0, splits1), as the .cu files declare them
        assertEquals(List.of("u64", "u64", "u64", "u64", "u64", "u32", "u32", "f32"), SIGNATURES.of("add_rmsnorm_vec_h_bf16"));
        assertEquals(List.of("u64", "u64", "u64", "u32", "u32", "u32", "u32", "u32"), SIGNATURES.of("splitk_reduce_swiglu_h_f16"));
        assertEquals(List.of("u64", "u64", "u64", "u64", "u64", "u64"), SIGNATURES.of("l2_prefetch"));
        // (part, q, k, v, bq, bk, bv, positions, invFreq, slots, keys, values, npad, nHeads, nKvHeads, headDim, neox,
        // splits0, splits1, splits2)
        List<String> rope = SIGNATURES.of("splitk_reduce_rope_kv_f16");
        assertEquals(java.util.Collections.nCopies(12, "u64"), rope.subList(0, 12));
        assertEquals(java.util.Collections.nCopies(8, "u32"), rope.subList(12, 20));
        assertEquals(20, rope.size());
        // (positions, pacc, pml, out, nHeads, headDim, splits, outH, halfType, npad, window)
        assertEquals(List.of("u64", "u64", "u64", "u64", "u32", "u32", "u32", "u64", "u32", "u32", "u32"),
                SIGNATURES.of("attention_split_combine"));
        // this session's kernels: (w, p, rows, cols, groups); (w, xh, y, n, rows, cols); (w, xh, out, tiles8, nOut,
        // rows, cols, kChunk); (w0, w1, w2, xh, part, tiles8, cols, rows0..2, chunk0..2)
        assertEquals(List.of("u64", "u64", "u32", "u32", "u32"), SIGNATURES.of("pack_stream_weights"));
        assertEquals(List.of("u64", "u64", "u64", "u32", "u32", "u32"), SIGNATURES.of("matmul_stream_packed_slices_bf16"));
        assertEquals(SIGNATURES.of("matmul_stream_bf16"), SIGNATURES.of("matmul_stream_tall_packed_f16"));
        assertEquals(SIGNATURES.of("matmul_stream_group_bf16"), SIGNATURES.of("matmul_stream_tall_packed_group_bf16"));
        assertEquals(SIGNATURES.of("matmul_stream_group_f16"), SIGNATURES.of("matmul_stream_wide_packed_group_f16"));
        List<String> group = SIGNATURES.of("matmul_stream_packed_group_bf16");
        assertEquals(java.util.Collections.nCopies(5, "u64"), group.subList(0, 5));
        assertEquals(java.util.Collections.nCopies(8, "u32"), group.subList(5, 13));
        // then the reduction's: (epi, n), 13 pointers (counters, y0..y2, yh, biases, positions, invFreq, slots, keys,
        // values), (f16Kv, headDim, neox)
        assertEquals(List.of("u32", "u32"), group.subList(13, 15));
        assertEquals(java.util.Collections.nCopies(13, "u64"), group.subList(15, 28));
        assertEquals(java.util.Collections.nCopies(3, "u32"), group.subList(28, 31));
        assertEquals(31, group.size());
    }

    @Test
    void everyGroupEpilogueFillsTheGroupedStreamingKernelsArguments() {
        CUdeviceptr p = new CUdeviceptr();
        Object[] base = {p, p, p, p, p, 8, 2048, 2048, 512, 512, 256, 512, 512}; // w0..2, xh, part, tiles8, cols, rows, chunks
        GroupEpilogue rope = new GroupEpilogue(GroupEpilogue.ROPE_KV, p, p, p, null, null, null, null, p, p, p, p, p, true, 64,
                24); // NeoX pairs 24 apart: RoPE over 48 of 64 dimensions
        GroupEpilogue swiglu = new GroupEpilogue(GroupEpilogue.SWIGLU, p, null, null, p, null, null, null, null, null, null,
                null, null, false, 0, 0);
        GroupEpilogue residual = GroupEpilogue.residual(null);
        assertEquals(GroupEpilogue.RESIDUAL, residual.kind());
        for (GroupEpilogue e : List.of(GroupEpilogue.PARTIALS, rope, swiglu, residual)) {
            Object[] epi = e.args(64, null);
            Object[] all = java.util.Arrays.copyOf(base, base.length + epi.length);
            System.arraycopy(epi, 0, all, base.length, epi.length);
            for (String flavour : List.of("", "wide_", "packed_", "wide_packed_", "tall_packed_")) {
                for (String type : List.of("bf16", "f16")) {
                    SIGNATURES.check("matmul_stream_" + flavour + "group_" + type, all); // throws on a wrong count or width
                }
            }
            assertEquals(e.kind(), epi[0]);
            assertEquals(64, epi[1]);
        }
        assertEquals(List.of(1, 64, 24), List.of(rope.args(1, null)[15], rope.args(1, null)[16], rope.args(1, null)[17]));
        assertTrue(GroupEpilogue.ropeFits(64) && GroupEpilogue.ropeFits(128) && GroupEpilogue.ropeFits(32));
        assertTrue(!GroupEpilogue.ropeFits(96) && !GroupEpilogue.ropeFits(80) && !GroupEpilogue.ropeFits(256));
        assertThrows(IllegalArgumentException.class, () -> GroupEpilogue.ropeKv(null, null, null, null, null, null, p, p, p, p,
                p, true, 96, 0));
    }

    @Test
    void launchesThatDoNotFitTheKernelAreRefusedWithTheKernelNamed() {
        CUdeviceptr p = new CUdeviceptr();
        SIGNATURES.check("add_rmsnorm_vec_h_bf16", p, p, p, p, null, 5, 2048, 1e-5f);
        SIGNATURES.check("l2_prefetch", p, 8L << 20, p, 0L, null, 0L);
        IllegalArgumentException few = assertThrows(IllegalArgumentException.class,
                () -> SIGNATURES.check("add_rmsnorm_vec_h_bf16", p, p, p, p, 5, 2048, 1e-5f));
        assertTrue(few.getMessage().contains("add_rmsnorm_vec_h_bf16 takes 8 arguments"), few.getMessage());
        IllegalArgumentException type = assertThrows(IllegalArgumentException.class,
                () -> SIGNATURES.check("add_rmsnorm_vec_h_bf16", p, p, p, p, p, 5, 2048, 1e-5));
        assertTrue(type.getMessage().contains("argument 7 is .f32"), type.getMessage());
        IllegalArgumentException width = assertThrows(IllegalArgumentException.class,
                () -> SIGNATURES.check("l2_prefetch", p, 8, p, 0L, p, 0L));
        assertTrue(width.getMessage().contains("argument 1 is .u64"), width.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SIGNATURES.check("no_such_kernel"));
    }

    @Test
    void launchBoundsAreReadAndLargerBlocksRefused() {
        assertEquals(256, SIGNATURES.maxThreads("matmul_stream_bf16"));
        assertEquals(512, SIGNATURES.maxThreads("matmul_stream_wide_group_f16"));
        assertEquals(256, SIGNATURES.maxThreads("matmul_stream_tall_packed_bf16"));
        assertEquals(256, SIGNATURES.maxThreads("matmul_stream_tall_packed_slices_f16"));
        SIGNATURES.checkBlock("matmul_stream_tall_packed_group_bf16", 256);
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
                () -> SIGNATURES.checkBlock("matmul_stream_tall_packed_group_bf16", 512));
        assertTrue(big.getMessage().contains("at most 256 threads"), big.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SIGNATURES.checkBlock("matmul_stream_bf16", 0));
    }
}

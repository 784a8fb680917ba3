package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.inferstream.runtime.gguf.GgmlType;

/**
 * The tiled prefill attention (attention_tiled_f16_* and _f32_*) against the float64 paged causal attention of the same inputs
 * ({@link PagedAttentionCase}) on steps that mix a long prefill chunk (crossing key tiles and items), a first chunk from
 * position 0 and decode tokens (items of one token), cut into items by {@link TiledAttention#plan}: within 2e-3 of the
 * reference per (token, head) (Q and P go through F16), and its 16-bit copy for the Wo product bit for bit
 * to_half_padded of its output, padding rows zero; with sliding windows too.
 */
class TiledAttentionGpuTest {

    private static CudaDevice device;

    @BeforeEach
    void open() {
        device = CudaTestDevice.require();
    }

    @ParameterizedTest(name = "{0} KV, head {1}, {2} heads / {3} KV heads, blocks of {4}, chunk of {5} at {6}, window {7}, "
            + "soft cap {8}")
    @CsvSource({
        "F16, 64, 32, 8, 16, 100, 900, 0, 0",  // the Llama-3.2-1B shape: items of 16 tokens, 64-position tiles
        "F16, 64, 32, 8, 16, 64, 0, 0, 0",     // a first chunk: every tile is the diagonal one for some item
        "F16, 128, 16, 8, 16, 77, 300, 0, 0",  // head 128 (32-position tiles), groups of 2: items of 32 tokens
        "F16, 64, 8, 8, 7, 130, 45, 0, 0",     // groups of 1 (items of 64 tokens), blocks of 7
        "F16, 64, 32, 4, 16, 40, 500, 0, 0",   // groups of 8: items of 8 tokens
        "F16, 128, 16, 1, 16, 20, 63, 0, 0",   // groups of 16: items of 4 tokens
        "F32, 64, 32, 8, 16, 100, 900, 0, 0",  // F32 caches: half the positions per tile, K and V rounded in the fragments
        "F32, 128, 16, 8, 16, 77, 300, 0, 0",
        "F32, 64, 8, 8, 7, 130, 45, 0, 0",
        "F16, 64, 32, 8, 16, 100, 900, 50, 0", // a sliding window shorter than the chunk: tiles before it skipped
        "F16, 64, 8, 8, 7, 130, 45, 100, 0",   // a window that the first tokens of the chunk do not fill
        "F32, 128, 16, 8, 16, 77, 300, 20, 0",
        "F16, 64, 32, 8, 16, 70, 150, 0, 0.5",  // Gemma 2's soft cap (0.5 binds on these scores)
        "F32, 64, 8, 8, 7, 130, 45, 100, 0.5",
    })
    void tiledAttentionMatchesTheFloat64Reference(String precision, int headDim, int nHeads, int nKvHeads, int blockSize,
                                                 int chunk, int start, int window, float softcap) {
        boolean f16 = precision.equals("F16");
        // sequence 0: the chunk; sequences 1-3: decode tokens at contexts 1, 17 and 260; sequence 4: positions 0..20
        int n = chunk + 3 + 21;
        int[] positions = new int[n];
        int[] seq = new int[n];
        int t = 0;
        for (int i = 0; i < chunk; i++, t++) {
            positions[t] = start + i;
        }
        int[] decode = {0, 16, 259};
        for (int i = 0; i < 3; i++, t++) {
            positions[t] = decode[i];
            seq[t] = 1 + i;
        }
        for (int i = 0; i < 21; i++, t++) {
            positions[t] = i;
            seq[t] = 4;
        }
        PagedAttentionCase c = new PagedAttentionCase(headDim, nHeads, nKvHeads, blockSize, positions, seq,
                headDim * 131L + nHeads * 17L + nKvHeads + chunk);
        TiledAttention tiled = new TiledAttention(nHeads, nKvHeads, headDim);
        int[] items = TiledAttention.plan(seq, positions, n, tiled.tokensPerItem());
        double scale = 1.0 / Math.sqrt(headDim);
        float[] expected = c.reference(scale, window, softcap);
        int qDim = nHeads * headDim;
        int npad = (n + 7) / 8 * 8 + 8;
        short[] poison = new short[npad * qDim];
        Arrays.fill(poison, (short) 0xFFFF);
        try (DeviceBuffer qd = DeviceBuffer.allocate(4L * c.q.length, "q");
             DeviceBuffer kd = DeviceBuffer.allocate((f16 ? 2L : 4L) * c.keys16.length, "keys");
             DeviceBuffer vd = DeviceBuffer.allocate((f16 ? 2L : 4L) * c.values16.length, "values");
             DeviceBuffer md = DeviceBuffer.allocate(4L * c.meta.length, "metadata");
             DeviceBuffer id = DeviceBuffer.allocate(4L * items.length, "items");
             DeviceBuffer out = DeviceBuffer.allocate(4L * n * qDim, "out");
             DeviceBuffer out2 = DeviceBuffer.allocate(4L * n * qDim, "out with halves");
             DeviceBuffer h1 = DeviceBuffer.allocate(2L * npad * qDim, "to_half_padded of out");
             DeviceBuffer h2 = DeviceBuffer.allocate(2L * npad * qDim, "halves written by the attention")) {
            qd.upload(c.q, c.q.length);
            if (f16) {
                kd.upload(c.keys16);
                vd.upload(c.values16);
            } else { // the same (F16-representable) values: one reference serves both
                kd.upload(c.keys, c.keys.length);
                vd.upload(c.values, c.values.length);
            }
            md.upload(c.meta, c.meta.length);
            id.upload(items, items.length);
            h2.upload(poison);
            tiled.launch(device.kernels(), f16, qd, kd, vd, md.at(0), md.at(4L * n), md.at(8L * n), c.maxBlocks, blockSize, id,
                    items.length / 2, out, n, (float) scale, null, null, n, window, softcap);
            tiled.launch(device.kernels(), f16, qd, kd, vd, md.at(0), md.at(4L * n), md.at(8L * n), c.maxBlocks, blockSize, id,
                    items.length / 2, out2, n, (float) scale, h2, GgmlType.BF16, npad, window, softcap);
            device.kernels().launch("to_half_padded_bf16", Math.min(65535, (npad * qDim + 255) / 256), 1, 256, 0, out, h1, n,
                    npad, qDim);
            device.synchronize();
            float[] got = new float[n * qDim];
            out.download(got, got.length);
            for (int tok = 0; tok < n; tok++) {
                for (int h = 0; h < nHeads; h++) {
                    int off = (tok * nHeads + h) * headDim;
                    double e = CudaTestDevice.relativeError(Arrays.copyOfRange(got, off, off + headDim),
                            Arrays.copyOfRange(expected, off, off + headDim), headDim);
                    assertTrue(e <= 2e-3, "token " + tok + " (sequence " + seq[tok] + ", position " + positions[tok]
                            + "), head " + h + ": relative error " + e);
                }
            }
            float[] got2 = new float[n * qDim];
            out2.download(got2, got2.length);
            assertArrayEquals(got, got2, "out with the 16-bit copy written");
            short[] a = new short[npad * qDim];
            short[] b = new short[npad * qDim];
            h1.download(a, a.length);
            h2.download(b, b.length);
            assertArrayEquals(a, b, "BF16 copy of out, padding rows zero");
        }
    }
}

package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The split-K ranges of the skinny product (host side, no GPU): both policies must tile K exactly. */
class SkinnySplitTest {

    @ParameterizedTest(name = "{0} x {1} deep={2}")
    @CsvSource({
        "2048, 2048, false", "2048, 2048, true", "512, 2048, false", "512, 2048, true",
        "8192, 2048, false", "8192, 2048, true", "2048, 8192, false", "2048, 8192, true",
        "96, 400, false", "96, 400, true", "48, 208, true", "4016, 64, true", "128256, 2048, true",
    })
    void splitsCoverEveryColumnOnceWithWholeTiles(int rows, int cols, boolean deep) {
        int chunk = SkinnyScratch.kChunk(rows, cols, deep);
        int splits = SkinnyScratch.splits(rows, cols, deep);
        assertEquals(0, chunk % 16, "K range of " + chunk + " columns is not whole 16-column tiles");
        assertTrue((long) splits * chunk >= cols, "splits leave columns out");
        assertTrue((long) (splits - 1) * chunk < cols, "the last split is empty");
        // the scratch is sized for whichever policy the model picks at load
        assertTrue(SkinnyScratch.partialFloats(rows, cols) >= (long) splits * SkinnyScratch.MAX_TOKENS * rows);
    }

    @ParameterizedTest(name = "{0} x {1}: {2} -> {3} splits")
    @CsvSource({
        "2048, 2048, 8, 16",  // Wq, Wo of Llama-3.2-1B: 256 -> 512 blocks of 64 rows
        "512, 2048, 8, 16",   // Wk, Wv: 64 -> 128 blocks
        "8192, 2048, 4, 4",   // gate, up: already 512 blocks
        "2048, 8192, 16, 16", // down: already 512 blocks
        "96, 400, 1, 3",      // 2 blocks: as deep as 128-column K ranges allow
        "256, 256, 1, 2",     // CudaLlamaModelGpuTest's deep rows (dim 256, FFN 512): Wq, Wo
        "512, 256, 1, 2",     // their gate, up
        "256, 512, 2, 4",     // their down
    })
    void deepSplitDoublesTheBlocksOfUnderFilledLlama1bMatrices(int rows, int cols, int defaultSplits, int deepSplits) {
        assertEquals(defaultSplits, SkinnyScratch.splits(rows, cols, false));
        assertEquals(deepSplits, SkinnyScratch.splits(rows, cols, true));
    }

    @ParameterizedTest(name = "matmul_stream {0} x {1} wide={2}")
    @CsvSource({
        "2048, 2048, false", "512, 2048, false", "8192, 2048, false", "2048, 8192, false", "128256, 2048, false",
        "100, 200, false", "5000, 256, false", "33, 520, false", "4016, 72, false", "17, 8, false", "2000, 1544, false",
        "1000, 2056, false", "130, 264, false", "2048, 2048, true", "8192, 2048, true", "2048, 8192, true",
        "128256, 2048, true", "300, 1032, true", "17, 8, true",
    })
    void streamSplitsCoverEveryColumnOnceWithWholeChunks(int rows, int cols, boolean wide) {
        int chunk = SkinnyScratch.streamChunk(rows, cols, wide);
        int splits = SkinnyScratch.streamSplits(rows, cols, wide);
        assertEquals(0, chunk % SkinnyScratch.STREAM_KC, "K range of " + chunk + " columns is not whole 64-column chunks");
        assertTrue((long) splits * chunk >= cols, "splits leave columns out");
        assertTrue((long) (splits - 1) * chunk < cols, "the last split is empty");
        assertTrue(splits == 1 || chunk >= 256, "K ranges under 256 columns: " + chunk);
        assertTrue(SkinnyScratch.partialFloats(rows, cols) >= (long) splits * SkinnyScratch.MAX_TOKENS * rows,
                "the scratch holds matmul_stream's partial sums");
    }

    @ParameterizedTest(name = "matmul_stream deep {0} x {1} wide={2}")
    @CsvSource({
        "2048, 2048, false", "512, 2048, false", "8192, 2048, false", "2048, 8192, false", "128256, 2048, false",
        "100, 200, false", "33, 520, false", "4016, 72, false", "17, 8, false", "200, 1024, false",
        "2048, 2048, true", "300, 1032, true",
    })
    void deepStreamSplitsCoverEveryColumnOnceWithWholeChunks(int rows, int cols, boolean wide) {
        int chunk = SkinnyScratch.streamChunk(rows, cols, wide, true);
        int splits = SkinnyScratch.streamSplits(rows, cols, wide, true);
        assertEquals(0, chunk % SkinnyScratch.STREAM_KC, "K range of " + chunk + " columns is not whole 64-column chunks");
        assertTrue((long) splits * chunk >= cols, "splits leave columns out");
        assertTrue((long) (splits - 1) * chunk < cols, "the last split is empty");
        assertTrue(splits == 1 || chunk >= 128, "K ranges under 128 columns: " + chunk);
        assertTrue(splits >= SkinnyScratch.streamSplits(rows, cols, wide), "deep never splits less than the default");
        assertTrue(SkinnyScratch.partialFloats(rows, cols) >= (long) splits * SkinnyScratch.MAX_TOKENS * rows,
                "the scratch holds the deep split's partial sums");
    }

    @ParameterizedTest(name = "matmul_stream deep {0} x {1}: {2} splits of {3} columns")
    @CsvSource({
        "2048, 2048, 16, 128",   // Wq, Wo of Llama-3.2-1B: 128 -> 256 blocks
        "512, 2048, 16, 128",    // Wk, Wv: 32 -> 64 blocks
        "8192, 2048, 4, 512",    // gate, up: the grid is full already, unchanged
        "2048, 8192, 16, 512",   // down: unchanged
        "128256, 2048, 1, 2048", // output head: unchanged
    })
    void deepStreamSplitOfLlama1bMatrices(int rows, int cols, int splits, int chunk) {
        assertEquals(splits, SkinnyScratch.streamSplits(rows, cols, false, true));
        assertEquals(chunk, SkinnyScratch.streamChunk(rows, cols, false, true));
    }

    @ParameterizedTest(name = "matmul_stream {0} x {1} wide={5}: {2} splits of {3} columns, {4} blocks")
    @CsvSource({
        "8192, 2048, 4, 512, 256, false",      // gate, up of Llama-3.2-1B: one wave of 2 blocks per SM on 132 SMs
        "2048, 8192, 16, 512, 256, false",     // down
        "2048, 2048, 8, 256, 128, false",      // Wq, Wo: K ranges kept at 256 columns
        "512, 2048, 8, 256, 32, false",        // Wk, Wv
        "128256, 2048, 1, 2048, 1002, false",  // output head: one split, y written directly
        "8192, 2048, 4, 512, 128, true",       // 16-warp blocks: one per SM
        "2048, 8192, 16, 512, 128, true",
        "2048, 2048, 8, 256, 64, true",
        "128256, 2048, 1, 2048, 501, true",
    })
    void streamSplitOfLlama1bMatrices(int rows, int cols, int splits, int chunk, int blocks, boolean wide) {
        assertEquals(splits, SkinnyScratch.streamSplits(rows, cols, wide));
        assertEquals(chunk, SkinnyScratch.streamChunk(rows, cols, wide));
        int rowsPerBlock = SkinnyScratch.streamRows(wide);
        assertEquals(blocks, (rows + rowsPerBlock - 1) / rowsPerBlock * splits);
    }

    @ParameterizedTest(name = "{0} x {1} deep={2}: {3} tall blocks, tall on 132 SMs {4}")
    @CsvSource({
        "2048, 2048, false, 64, false",   // Wq, Wo of Llama-3.2-1B: half the SMs, keep 16-row warps
        "2048, 2048, true, 128, true",    // deep split: 16 K ranges
        "8192, 2048, false, 128, true",   // gate, up (each; grouped 256)
        "2048, 8192, false, 128, true",   // down
        "512, 2048, false, 16, false",    // Wk, Wv
        "128256, 2048, false, 501, true", // the output head
    })
    void tallKernelsOnlyWhereTheirBlocksFillTheSms(int rows, int cols, boolean deep, long blocks, boolean tall) {
        assertEquals(blocks, SkinnyScratch.tallBlocks(rows, cols, false, deep));
        assertEquals(116, SkinnyScratch.tallMinBlocks(132));
        assertEquals(tall, blocks >= SkinnyScratch.tallMinBlocks(132));
    }

    @ParameterizedTest(name = "{0} x {1}: {2} packed bytes")
    @CsvSource({
        "128256, 2048, 525336576", // whole 256-row blocks and 64-column chunks: the matrix's own size
        "2048, 8192, 33554432",
        "300, 1032, 1114112",      // 2 blocks of 16 row groups x 17 chunks of 2 KB, zeros around the 300 x 1032
        "17, 8, 32768",            // one block of 16 row groups x one chunk
    })
    void packedCopiesAreWholeBlocksOfTiles(int rows, int cols, long bytes) {
        assertEquals(bytes, DeviceMatrix.packedBytes(rows, cols));
        assertTrue(bytes >= 2L * rows * cols);
    }
}

package io.inferstream.runtime.cuda;

/**
 * What a step hands back from its logits [m, vocab] in device memory (sampling.cu), so that the vocabulary need not
 * cross the bus: per row the argmax (greedy steps) into the metadata ints, or the k best (logit, id) pairs with the
 * row's max and sum of exp into the candidates buffer.
 */
final class LogitHead {

    /** sampling.cu: TOPK_THREADS (threads per row of topk_rows). */
    static final int TOPK_THREADS = 1024;
    /** sampling.cu: ARGMAX_CHUNK = TOPK_CHUNK (logits per block of the two-stage argmax / top-k). */
    static final int HEAD_CHUNK = 4096;

    private final CudaKernels k;
    private final StepBuffers buf;
    private final int vocab;

    LogitHead(CudaKernels k, StepBuffers buf, int vocab) {
        this.k = k;
        this.buf = buf;
        this.vocab = vocab;
    }

    /**
     * Chunks of sampling.cu's two-stage argmax / top-k for rows of {@code vocab} logits, or 0 where one block per row
     * (argmax_rows, topk_rows) serves: long rows give one block per row too little of the GPU (run 5 on an H200: 193 us
     * for the argmax and 415 us for the top-256 of 64 rows of 128256 logits).
     */
    static int chunks(int vocab) {
        return vocab > 2 * HEAD_CHUNK ? (vocab + HEAD_CHUNK - 1) / HEAD_CHUNK : 0;
    }

    /** The first m rows' argmax (the lowest id on ties) into the ints: argmax_rows, or argmax_chunks + argmax_merge. */
    void argmax(int m) {
        int chunks = chunks(vocab);
        if (chunks == 0) {
            k.launch("argmax_rows", m, 1, 256, 0, buf.logits, vocab, buf.ints);
            return;
        }
        // stage one: (max, index) per row and chunk of 4096 logits; stage two: one warp per row merges them
        long parts = (long) m * chunks;
        k.launch("argmax_chunks", m, chunks, 256, 0, buf.logits, vocab, buf.headScratch, buf.headScratch.at(4 * parts));
        k.launch("argmax_merge", m, 1, 32, 0, buf.headScratch, buf.headScratch.at(4 * parts), chunks, buf.ints);
    }

    /**
     * topk_rows (or for long rows topk_chunks + topk_merge, and top1_chunks + top1_merge when k = 1) over the first m
     * rows of the logits into the candidates: logits [m, kk] | ids [m, kk] | (max, sum of exp) [m, 2].
     */
    void topK(int m, int kk) {
        long pairs = (long) m * kk;
        int chunks = chunks(vocab);
        if (chunks == 0) {
            k.launch("topk_rows", m, 1, TOPK_THREADS, 0, buf.logits, vocab, kk, buf.candidates, buf.candidates.at(4 * pairs),
                    buf.candidates.at(8 * pairs));
            return;
        }
        if (kk == 1) { // the engine's greedy steps: the first candidate with one pass per chunk (top1_chunks)
            long parts = (long) m * chunks;
            k.launch("top1_chunks", m, chunks, 256, 0, buf.logits, vocab, buf.headScratch, buf.headScratch.at(8 * parts));
            k.launch("top1_merge", m, 1, 32, 0, buf.logits, buf.headScratch, buf.headScratch.at(8 * parts), vocab, chunks, buf.candidates,
                    buf.candidates.at(4 * pairs), buf.candidates.at(8 * pairs));
            return;
        }
        long perRow = (long) (chunks - 1) * kk + Math.min(kk, vocab - (chunks - 1) * HEAD_CHUNK);
        long cand = m * perRow;
        k.launch("topk_chunks", m, chunks, 256, 0, buf.logits, vocab, kk, buf.headScratch, buf.headScratch.at(4 * cand),
                buf.headScratch.at(8 * cand));
        k.launch("topk_merge", m, 1, TOPK_THREADS, 0, buf.headScratch, buf.headScratch.at(4 * cand), buf.headScratch.at(8 * cand),
                vocab, chunks, kk, buf.candidates, buf.candidates.at(4 * pairs), buf.candidates.at(8 * pairs));
    }
}

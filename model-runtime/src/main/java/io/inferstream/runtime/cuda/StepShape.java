package io.inferstream.runtime.cuda;

/**
 * The shape of a prepared step, and where each part of its metadata lies in the uploaded ints (byte offsets; see
 * {@link StepMetadata}): tokens [n] | positions [n] | sequence [n] | KV slots [n] | logit rows [m] | the tiled
 * attention's items [items, 2] | block tables [sequences, maxBlocks]. The tables come last: their count is not part of a
 * recorded graph's key. {@code items} is 0 when the step uses another attention kernel than the tiled one.
 */
record StepShape(int n, int m, int maxBlocks, int items) {

    long tokensAt() {
        return 0;
    }

    long positionsAt() {
        return 4L * n;
    }

    long seqAt() {
        return 8L * n;
    }

    long slotsAt() {
        return 12L * n;
    }

    long logitRowsAt() {
        return 16L * n;
    }

    long itemsAt() {
        return logitRowsAt() + 4L * m;
    }

    long tablesAt() {
        return itemsAt() + 8L * items;
    }
}

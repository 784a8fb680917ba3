package io.inferstream.runtime.tensor;

/**
 * The float multiply-add throughput this machine gives the kernels, measured: every {@link WorkerPool} thread
 * runs twelve independent FMA chains in registers (no memory traffic), as wide as the kernels' vectors (plain
 * {@code Math.fma} without the Vector API). It is the ceiling of any compute-bound step here, which is what
 * {@code inferstream bench} compares its modes against. Result in FLOP/s (one FMA = two FLOP).
 */
public final class FmaPeak {

    /** FMAs per chain per chunk: ~2 ms on one AVX2 core, so the pool's 16 chunks per thread balance. */
    private static final int ITERATIONS = 1_000_000;
    private static final int CHAINS = 12;

    private FmaPeak() {
    }

    /** Best of {@code rounds} timed rounds (after one untimed round that compiles the loop), in FLOP/s. */
    public static double measure(int rounds) {
        if (rounds < 1) {
            throw new IllegalArgumentException("rounds must be ≥ 1, got " + rounds);
        }
        int chunks = 16 * WorkerPool.threads();
        double[] sink = new double[chunks];
        round(chunks, sink);
        double best = 0;
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            round(chunks, sink);
            double seconds = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, flopsPerChunk() * chunks / seconds);
        }
        double check = 0;
        for (double s : sink) {
            check += s;
        }
        if (!(check > 0)) { // consumes the chains' results, so the JIT cannot drop the loop
            throw new AssertionError("FMA chains produced " + check);
        }
        return best;
    }

    /** Vector lanes × chains × iterations × 2: the FLOP one chunk does. */
    private static double flopsPerChunk() {
        return 2.0 * VectorMath.lanes() * CHAINS * ITERATIONS;
    }

    private static void round(int chunks, double[] sink) {
        WorkerPool.parallelFor(0, chunks, c -> sink[c] = VectorApiSupport.ENABLED
                ? SimdFloatKernels.fmaChains(ITERATIONS)
                : ScalarFloatKernels.fmaChains(ITERATIONS));
    }
}

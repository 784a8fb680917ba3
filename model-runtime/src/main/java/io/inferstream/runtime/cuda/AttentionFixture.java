package io.inferstream.runtime.cuda;

import java.util.SplittableRandom;

import io.inferstream.runtime.tensor.VectorMath;
import jcuda.driver.CUdeviceptr;

/**
 * Device inputs of one step's attention for the load-time kernel choices, over a paged cache of 16-position blocks whose
 * blocks are interleaved across sequences, as random F16 and F32 keys/values (the F16 ones the rounding of the F32
 * ones), and random q. {@link #decode}: n tokens, each its own sequence, at contexts of 1..192 positions (0, 15, 16, 17
 * and 191 among them: block edges). {@link #prefill}: one sequence's chunk of consecutive positions. Metadata as steps
 * upload it: positions [n] | seq [n] | tables [sequences, maxBlocks].
 */
final class AttentionFixture implements AutoCloseable {

    static final int BLOCK_SIZE = 16;

    final DeviceBuffer q;
    final DeviceBuffer keys16;
    final DeviceBuffer values16;
    final DeviceBuffer keys32;
    final DeviceBuffer values32;
    private final DeviceBuffer meta;
    private final int n;
    private final int maxBlocks;
    private final int[] positions;
    private final int[] seq;

    /** n decode tokens of n sequences, contexts up to 192 positions. */
    static AttentionFixture decode(int n, int qDim, int kvDim, long seed) {
        int maxBlocks = 12;
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] positions = new int[n];
        int[] seq = new int[n];
        int[] edge = {0, 15, 16, 17, maxBlocks * BLOCK_SIZE - 1};
        for (int t = 0; t < n; t++) {
            positions[t] = t < edge.length ? edge[t] : rnd.nextInt(maxBlocks * BLOCK_SIZE);
            seq[t] = t;
        }
        return new AttentionFixture(positions, seq, n, maxBlocks, qDim, kvDim, rnd);
    }

    /** One sequence's prefill chunk: n tokens at positions start .. start + n - 1. */
    static AttentionFixture prefill(int n, int start, int qDim, int kvDim, long seed) {
        int[] positions = new int[n];
        for (int t = 0; t < n; t++) {
            positions[t] = start + t;
        }
        return new AttentionFixture(positions, new int[n], 1, (start + n - 1) / BLOCK_SIZE + 1, qDim, kvDim,
                new SplittableRandom(seed));
    }

    private AttentionFixture(int[] positions, int[] seq, int sequences, int maxBlocks, int qDim, int kvDim,
                             SplittableRandom rnd) {
        this.n = positions.length;
        this.maxBlocks = maxBlocks;
        this.positions = positions;
        this.seq = seq;
        int slots = sequences * maxBlocks * BLOCK_SIZE;
        float[] qs = new float[n * qDim];
        for (int i = 0; i < qs.length; i++) {
            qs[i] = (float) rnd.nextDouble(-2, 2);
        }
        float[] ks = new float[slots * kvDim];
        float[] vs = new float[slots * kvDim];
        short[] kh = new short[ks.length];
        short[] vh = new short[vs.length];
        for (int i = 0; i < ks.length; i++) {
            ks[i] = (float) rnd.nextDouble(-1, 1);
            vs[i] = (float) rnd.nextDouble(-1, 1);
            kh[i] = VectorMath.f32ToF16(ks[i]);
            vh[i] = VectorMath.f32ToF16(vs[i]);
        }
        // sequence s's blocks interleaved with the others'
        int[] md = new int[2 * n + sequences * maxBlocks];
        System.arraycopy(positions, 0, md, 0, n);
        System.arraycopy(seq, 0, md, n, n);
        for (int s = 0; s < sequences; s++) {
            for (int b = 0; b < maxBlocks; b++) {
                md[2 * n + s * maxBlocks + b] = b * sequences + (sequences - 1 - s);
            }
        }
        DeviceBuffer[] made = new DeviceBuffer[6];
        try {
            made[0] = DeviceBuffer.allocate(4L * qs.length, "attention fixture q");
            made[0].upload(qs, qs.length);
            made[1] = DeviceBuffer.allocate(2L * kh.length, "attention fixture F16 keys");
            made[1].upload(kh);
            made[2] = DeviceBuffer.allocate(2L * vh.length, "attention fixture F16 values");
            made[2].upload(vh);
            made[3] = DeviceBuffer.allocate(4L * ks.length, "attention fixture F32 keys");
            made[3].upload(ks, ks.length);
            made[4] = DeviceBuffer.allocate(4L * vs.length, "attention fixture F32 values");
            made[4].upload(vs, vs.length);
            made[5] = DeviceBuffer.allocate(4L * md.length, "attention fixture metadata");
            made[5].upload(md, md.length);
        } catch (RuntimeException e) {
            for (DeviceBuffer b : made) {
                if (b != null) {
                    b.close();
                }
            }
            throw e;
        }
        q = made[0];
        keys16 = made[1];
        values16 = made[2];
        keys32 = made[3];
        values32 = made[4];
        meta = made[5];
    }

    /** The tokens' positions, on the host. */
    int[] positionsOnHost() {
        return positions.clone();
    }

    /** The tokens' sequences, on the host. */
    int[] seqs() {
        return seq.clone();
    }

    /** The stride of the block tables. */
    int maxBlocks() {
        return maxBlocks;
    }

    CUdeviceptr positions() {
        return meta.at(0);
    }

    CUdeviceptr seq() {
        return meta.at(4L * n);
    }

    CUdeviceptr tables() {
        return meta.at(8L * n);
    }

    DeviceBuffer keys(boolean f16) {
        return f16 ? keys16 : keys32;
    }

    DeviceBuffer values(boolean f16) {
        return f16 ? values16 : values32;
    }

    @Override
    public void close() {
        for (DeviceBuffer b : new DeviceBuffer[] {q, keys16, values16, keys32, values32, meta}) {
            b.close();
        }
    }
}

package io.inferstream.runtime.cuda;

/**
 * What a grouped streaming product (matmul_stream_*group, stream.cu) does after its partial sums: nothing
 * ({@link #PARTIALS}: they are left for a reduction kernel), or, in the block that stores a tile's last partial sums,
 * that tile's split-K reduction and what the separate kernel did after it: SwiGLU for gate/up (splitk_reduce_swiglu*),
 * the biases, RoPE and the KV write for Q/K/V (splitk_reduce_rope_kv_*), the residual add for a single Wo or down
 * product (splitk_reduce and the add of the next norm). One launch instead of two, the same bits (the
 * kernels share reduce.cuh). Holds the kernel's arguments after chunk2 (ST_GROUP_ARGS), pointers as DeviceBuffers,
 * CUdeviceptrs or null.
 */
record GroupEpilogue(int kind, Object y0, Object y1, Object y2, Object yh, Object bias0, Object bias1, Object bias2,
                     Object positions, Object invFreq, Object slots, Object keys, Object values, boolean f16Kv, int headDim,
                     int neox) {

    /** The kernel's epi values (EPI_NONE, EPI_SWIGLU, EPI_ROPE_KV, EPI_RESIDUAL in stream.cu). */
    static final int NONE = 0;
    static final int SWIGLU = 1;
    static final int ROPE_KV = 2;
    static final int RESIDUAL = 3;

    /** Partial sums only. */
    static final GroupEpilogue PARTIALS = new GroupEpilogue(NONE, null, null, null, null, null, null, null, null, null, null,
            null, null, false, 0, 0);

    /** gate, up: y [n, rows] = silu(gate) * up, and its 16-bit copy [npad, rows] into yh when not null. */
    static GroupEpilogue swiglu(DeviceBuffer y, DeviceBuffer yh) {
        return new GroupEpilogue(SWIGLU, y, null, null, yh, null, null, null, null, null, null, null, null, false, 0, 0);
    }

    /**
     * One matrix (Wo, down): the residual stream x [n, rows] += the product, so the next norm reads x alone (the
     * reduction, then the add of add_rmsnorm_vec_h or add_inplace).
     */
    static GroupEpilogue residual(DeviceBuffer x) {
        return new GroupEpilogue(RESIDUAL, x, null, null, null, null, null, null, null, null, null, null, null, false, 0, 0);
    }

    /**
     * Wq, Wk, Wv: q, k, v [n, rows] summed, biases added (null: none), q and k rotated by the tokens' positions, k and v
     * also into cache rows slots[t] of keys and values (F16 or F32). invFreq is {@link RopeFrequencies}'s table, neox
     * its {@link RopeFrequencies#layout}.
     */
    static GroupEpilogue ropeKv(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, Object bq, Object bk, Object bv,
                                Object positions, Object invFreq, Object slots, Object keys, Object values, boolean f16Kv,
                                int headDim, int neox) {
        if (!ropeFits(headDim)) {
            throw new IllegalArgumentException("the grouped product rotates whole heads of its 128-row blocks; head size "
                    + headDim + " does not divide 128");
        }
        return new GroupEpilogue(ROPE_KV, q, k, v, null, bq, bk, bv, positions, invFreq, slots, keys, values, f16Kv, headDim,
                neox);
    }

    /**
     * Whether the Q/K/V product can rotate its own heads: every streaming block serves a multiple of 128 rows (128 or
     * 256), so a head must divide 128 for a block to hold whole heads.
     */
    static boolean ropeFits(int headDim) {
        return headDim > 0 && headDim % 2 == 0 && 128 % headDim == 0;
    }

    /** The kernel arguments after chunk2 for n real tokens, with the arrival counters of the scratch. */
    Object[] args(int n, DeviceBuffer counters) {
        return new Object[] {kind, n, kind == NONE ? null : counters, y0, y1, y2, yh, bias0, bias1, bias2, positions, invFreq,
                slots, keys, values, f16Kv ? 1 : 0, headDim, neox};
    }
}

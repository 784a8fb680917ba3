package io.inferstream.runtime.model;

/**
 * Layers that attend to the last {@code size} positions only: a query at position p sees keys p − size + 1 .. p
 * (llama.cpp's LLAMA_SWA_TYPE_STANDARD, transformers' sliding-window mask). Every layer is such a layer but each
 * {@code period}-th one (the last of each period: Gemma 2 slides its even layers, period 2; Gemma 3 five of every
 * six, period 6), or every layer (period 0: Phi-3). Where some layers slide and others do not, the sliding ones turn
 * RoPE with their own base, unscaled (Gemma 3: 10000, where its global layers use 1e6 and, from 4B up, a linear factor
 * of 8); where every layer slides, they keep the model's RoPE and {@code ropeTheta} is not used.
 *
 * @param size      positions a sliding layer sees, its own included
 * @param period    layers per repeat of the pattern; layer l slides when l % period &lt; period − 1; 0: every layer
 * @param ropeTheta RoPE frequency base of the sliding layers (for a period of 2 or more)
 */
public record SlidingWindow(int size, int period, float ropeTheta) {

    public SlidingWindow {
        if (size <= 0 || period < 0 || period == 1) {
            throw new IllegalArgumentException("sliding window of " + size + " positions, period " + period
                    + ": expected a positive size and a period of 0 (every layer) or at least 2");
        }
    }

    /** Whether layer {@code layer} attends within the window. */
    public boolean slides(int layer) {
        return period == 0 || layer % period < period - 1;
    }
}

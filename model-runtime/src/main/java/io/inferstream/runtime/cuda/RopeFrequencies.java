package io.inferstream.runtime.cuda;

import io.inferstream.runtime.model.ModelConfig;

/**
 * The device's RoPE table: for each pair i of a head, [headDim] floats of (inverse frequency, magnitude), computed
 * exactly as the CPU model's Rope (model.Rope is package-private there): theta^(-2i/ropeDim) over the linear factor,
 * divided by GGUF rope_freqs or LongRoPE factors, else Llama-3 scaled; the magnitude is LongRoPE's attention factor (1 otherwise). The
 * pairs past the rotated width (Phi-4-mini turns 96 of 128 dimensions) have frequency 0 and magnitude 1, so the
 * kernels' rotation leaves them as they are. The device takes cos/sin of position * frequency in double and scales
 * them by the magnitude in float (common.cuh's rope_cos_sin), as the CPU does.
 */
final class RopeFrequencies {

    private RopeFrequencies() {
    }

    /** The model's table: its base, per-pair divisors (or Llama 3 scaling) and linear factor. */
    static float[] of(ModelConfig config, float[] freqFactors) {
        return of(config, freqFactors, config.ropeTheta(), config.ropeLinearFactor());
    }

    /**
     * The table of RoPE with frequency base {@code theta} and every angle divided by {@code linearFactor}: a
     * sliding-window layer's own (Gemma 3: base 10000, factor 1), as the CPU's Rope computes it.
     */
    static float[] of(ModelConfig config, float[] freqFactors, float theta, float linearFactor) {
        int headDim = config.headDim();
        int rotated = config.ropeDim();
        float[] table = new float[headDim];
        ModelConfig.RopeScaling s = config.ropeScaling();
        for (int i = 0; i < headDim / 2; i++) {
            if (i >= rotated / 2) {
                table[2 * i + 1] = 1f;
                continue;
            }
            double f = 1.0 / Math.pow(theta, (2.0 * i) / rotated) / linearFactor;
            if (freqFactors != null) {
                f /= freqFactors[i];
            } else if (s != null) {
                f = llama3Scaled(f, s);
            }
            table[2 * i] = (float) f;
            table[2 * i + 1] = config.ropeAttentionFactor();
        }
        return table;
    }

    /**
     * The kernels' {@code neox} argument (common.cuh's rope_pair): 0 for adjacent pairs, else half the rotated width,
     * the distance between a NeoX pair's two dimensions.
     */
    static int layout(ModelConfig config) {
        return config.ropeNeox() ? config.ropeDim() / 2 : 0;
    }

    private static double llama3Scaled(double freq, ModelConfig.RopeScaling s) {
        double lowFreqWavelen = s.originalContextLength() / s.lowFreqFactor();
        double highFreqWavelen = s.originalContextLength() / s.highFreqFactor();
        double wavelen = 2 * Math.PI / freq;
        if (wavelen < highFreqWavelen) {
            return freq;
        }
        if (wavelen > lowFreqWavelen) {
            return freq / s.factor();
        }
        double smooth = (s.originalContextLength() / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
        return (1 - smooth) * freq / s.factor() + smooth * freq;
    }
}

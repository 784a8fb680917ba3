package io.inferstream.runtime.model;

/**
 * Rotary position embedding: rotates each pair of a head's dimensions by {@code position × frequency}.
 * The pairs are adjacent ({@code 2i, 2i+1}: llama.cpp's "normal" layout, llama2.c, GGUF llama whose
 * Q/K rows the converter permuted) or half the rotated width apart ({@code i, i + ropeDim/2}: NeoX, qwen2, phi3).
 * Only the first {@code ropeDim} dimensions of a head turn (partial rotary, Phi-4-mini); cos and sin carry
 * LongRoPE's magnitude factor when the model has one.
 */
final class Rope {

    private final int headDim;
    private final boolean neox;
    private final float[] invFreq; // [ropeDim / 2] angle per position of pair i
    private final float magnitude; // on cos and sin: 1, or LongRoPE's attention factor

    /** The model's RoPE: its base, per-pair divisors (or Llama 3 scaling) and linear factor. */
    Rope(ModelConfig config, float[] freqFactors) {
        this(config, freqFactors, config.ropeTheta(), config.ropeLinearFactor());
    }

    /**
     * RoPE with frequency base {@code theta} and every angle divided by {@code linearFactor}: a sliding-window
     * layer's own (Gemma 3: base 10000, factor 1).
     */
    Rope(ModelConfig config, float[] freqFactors, float theta, float linearFactor) {
        this.headDim = config.headDim();
        this.neox = config.ropeNeox();
        this.magnitude = config.ropeAttentionFactor();
        int rotated = config.ropeDim();
        int half = rotated / 2;
        invFreq = new float[half];
        ModelConfig.RopeScaling scaling = config.ropeScaling();
        for (int i = 0; i < half; i++) {
            double f = 1.0 / Math.pow(theta, (2.0 * i) / rotated) / linearFactor;
            if (freqFactors != null) {
                f /= freqFactors[i]; // llama.cpp: theta / freq_factor
            } else if (scaling != null) {
                f = llama3Scaled(f, scaling);
            }
            invFreq[i] = (float) f;
        }
    }

    /**
     * Llama 3.1 frequency scaling (Meta's {@code apply_scaling}, HF rope_type "llama3"): long wavelengths
     * are slowed by {@code factor}, short ones kept, and the band between interpolated smoothly.
     */
    static double llama3Scaled(double freq, ModelConfig.RopeScaling s) {
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

    /**
     * cos and sin of every rotated pair's angle at {@code position} (times the magnitude factor, in float as
     * transformers scales them): {@code [ropeDim / 2]} each, written at {@code off}.
     */
    void angles(int position, float[] cos, float[] sin, int off) {
        for (int i = 0; i < invFreq.length; i++) {
            float angle = position * invFreq[i];
            cos[off + i] = (float) Math.cos(angle) * magnitude;
            sin[off + i] = (float) Math.sin(angle) * magnitude;
        }
    }

    /** Rotates {@code heads} consecutive heads of {@code x} from {@code off}, by angles from {@link #angles}. */
    void rotate(float[] x, int off, int heads, float[] cos, float[] sin, int csOff) {
        int half = invFreq.length;
        for (int h = 0; h < heads; h++) {
            int base = off + h * headDim;
            for (int i = 0; i < half; i++) {
                float c = cos[csOff + i];
                float s = sin[csOff + i];
                int a = base + (neox ? i : 2 * i);
                int b = base + (neox ? i + half : 2 * i + 1);
                float x0 = x[a];
                float x1 = x[b];
                x[a] = x0 * c - x1 * s;
                x[b] = x0 * s + x1 * c;
            }
        }
    }
}

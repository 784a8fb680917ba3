package io.inferstream.runtime.cuda;

import io.inferstream.runtime.model.ModelConfig;

/**
 * The angle per position of each pair of a head, [headDim / 2], computed exactly as the CPU model's Rope
 * (model.Rope is package-private there): theta^(-2i/headDim), divided by GGUF rope_freqs factors, else
 * Llama-3 scaled. The device then takes cos/sin of position * invFreq[i] in double, as the CPU does.
 */
final class RopeFrequencies {

    private RopeFrequencies() {
    }

    static float[] of(ModelConfig config, float[] freqFactors) {
        int headDim = config.headDim();
        int half = headDim / 2;
        float[] invFreq = new float[half];
        ModelConfig.RopeScaling s = config.ropeScaling();
        for (int i = 0; i < half; i++) {
            double f = 1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / headDim);
            if (freqFactors != null) {
                f /= freqFactors[i];
            } else if (s != null) {
                f = llama3Scaled(f, s);
            }
            invFreq[i] = (float) f;
        }
        return invFreq;
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

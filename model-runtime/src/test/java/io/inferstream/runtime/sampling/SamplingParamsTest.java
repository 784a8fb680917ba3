package io.inferstream.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.function.UnaryOperator;

import org.junit.jupiter.api.Test;

class SamplingParamsTest {

    private static final SamplingParams BASE = SamplingParams.greedy(16);

    private static void refused(UnaryOperator<SamplingParams> change, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> change.apply(BASE));
        assertEquals(message, e.getMessage());
    }

    @Test
    void aValueOutsideItsRangeIsRefusedWithItsNameAndRange() {
        refused(p -> p.withTemperature(-0.5f), "temperature must be a finite number >= 0 (0 = greedy), got -0.5");
        refused(p -> p.withTemperature(Float.NaN), "temperature must be a finite number >= 0 (0 = greedy), got NaN");
        refused(p -> p.withTemperature(Float.POSITIVE_INFINITY),
                "temperature must be a finite number >= 0 (0 = greedy), got Infinity");
        refused(p -> p.withTopK(-1), "top-k must be >= 0 (0 = off), got -1");
        refused(p -> p.withTopP(0f), "top-p must be in (0, 1] (1 = off), got 0.0");
        refused(p -> p.withTopP(1.01f), "top-p must be in (0, 1] (1 = off), got 1.01");
        refused(p -> p.withTopP(Float.NaN), "top-p must be in (0, 1] (1 = off), got NaN");
        refused(p -> p.withMinP(-0.1f), "min-p must be in [0, 1] (0 = off), got -0.1");
        refused(p -> p.withMinP(2f), "min-p must be in [0, 1] (0 = off), got 2.0");
        refused(p -> p.withRepetitionPenalty(0f), "repetition penalty must be a finite number > 0 (1 = off), got 0.0");
        refused(p -> p.withRepetitionPenalty(Float.NaN), "repetition penalty must be a finite number > 0 (1 = off), got NaN");
        refused(p -> p.withMaxNewTokens(-3), "max new tokens must be >= 0, got -3");
        refused(p -> p.withBeams(0, 1f), "the number of beams must be >= 1 (1 = off), got 0");
        refused(p -> p.withBeams(4, Float.NaN), "length penalty must be a finite number, got NaN");
    }

    @Test
    void theEdgesOfEachRangeAreAccepted() {
        SamplingParams p = BASE.withTemperature(0f).withTopK(0).withTopP(1f).withMinP(0f).withRepetitionPenalty(1f)
                .withMaxNewTokens(0).withBeams(1, 0f);
        assertEquals(0, p.maxNewTokens());
        p = BASE.withTemperature(2f).withTopP(Float.MIN_VALUE).withMinP(1f).withRepetitionPenalty(Float.MIN_VALUE)
                .withBeams(8, -1f);
        assertEquals(8, p.numBeams());
        assertEquals(List.of("\n"), BASE.withStopStrings(List.of("\n")).stopStrings());
    }
}

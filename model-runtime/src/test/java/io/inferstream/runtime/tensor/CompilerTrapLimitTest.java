package io.inferstream.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** {@link CompilerTrapLimit}: this JVM's limit as HotSpot reports it, and when the flag is advised. */
class CompilerTrapLimitTest {

    @Test
    void readsTheLimitThisJvmWasStartedWith() {
        // the build starts the test JVMs as the launchers start theirs (pom.xml's test.argLine)
        assertEquals(OptionalLong.of(10_000), CompilerTrapLimit.current());
        assertEquals(Optional.empty(), CompilerTrapLimit.advice());
    }

    @Test
    void advisesTheFlagOnJava17AtTheDefaultLimit() {
        String advice = CompilerTrapLimit.advice(17, OptionalLong.of(100)).orElseThrow();
        assertTrue(advice.startsWith("PerMethodTrapLimit is 100: Java 17's JIT"), advice);
        assertTrue(advice.contains("start the JVM with -XX:PerMethodTrapLimit=10000"), advice);
        assertTrue(CompilerTrapLimit.advice(21, OptionalLong.of(9_999)).isPresent());
    }

    @Test
    void saysNothingWhereTheLimitIsEnoughTheJitIsNewerOrTheLimitUnknown() {
        assertEquals(Optional.empty(), CompilerTrapLimit.advice(17, OptionalLong.of(10_000)));
        assertEquals(Optional.empty(), CompilerTrapLimit.advice(25, OptionalLong.of(100)));
        assertEquals(Optional.empty(), CompilerTrapLimit.advice(17, OptionalLong.empty()));
    }
}

package io.inferstream.runtime.tensor;

import java.lang.management.ManagementFactory;
import java.lang.management.PlatformManagedObject;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The JIT setting the Vector API kernels need on Java 17: {@code -XX:PerMethodTrapLimit=10000}.
 *
 * <p>C2 adds up, over every method a compile inlines, the uncommon traps each one's profile has recorded, and once
 * one kind's sum reaches {@code PerMethodTrapLimit} (default 100) it emits no trap of that kind anywhere in the
 * compile: it compiles the rare paths instead. A kernel inlines the Vector API's shared methods once per vector
 * operation (Q4_0's one-token kernel has 16 conversions, each inlining {@code AbstractVector.convert0} and
 * {@code VectorOperators.ImplCache.find}), and those methods keep the class-check traps of every other kernel's
 * warm-up: after Q6_K's kernel had run, the sum for Q4_0's kernel was 236 class checks in one JVM and 64 in another,
 * which got fast code. Over the limit, Java 17's C2 keeps paths on which the vectors must exist as objects, and
 * allocates three boxed vectors per block in the kernel's loop. One thread, 2048 × 2048, after Q4_K's, Q4_1's or
 * Q6_K's kernel: 11 of 18 JVMs took 528-831 µs, against 355-448 in all 18 with the flag; a Qwen3-0.6B-shaped Q4_0
 * model run after a Q4_K one decoded 22.0-23.3 tokens/s, against 24.0-29.2 with the flag (four alternating rounds),
 * and run after six other weight types' models 11.1 and 15.5 tokens/s, against 30.7 and 30.1.
 * Which JVMs get the slow code depends on compile timing. Java 25's C2 compiles the same over-limit sums to fast code.
 * With a limit of 10,000 the traps stay; a trap that fires again and again is still stopped by the per-bytecode
 * limits.
 */
public final class CompilerTrapLimit {

    /** The flag the launchers pass (deploy/inferstream, the local cluster's TaskManager, the Kubernetes images). */
    public static final String FLAG = "-XX:PerMethodTrapLimit=10000";

    static final long ENOUGH = 10_000;

    /** The first Java seen to compile the kernels fast at the default limit (17 was slow; 18-24 were not run). */
    static final int FAST_AT_DEFAULT_FROM = 25;

    private CompilerTrapLimit() {
    }

    /** What to do about this JVM's limit, when the Vector API kernels run and it is too low for them. */
    public static Optional<String> advice() {
        return VectorApiSupport.ENABLED ? advice(Runtime.version().feature(), current()) : Optional.empty();
    }

    /** The advice for a Java of {@code feature} whose limit is {@code limit} (empty: not known, not HotSpot). */
    static Optional<String> advice(int feature, OptionalLong limit) {
        if (feature >= FAST_AT_DEFAULT_FROM || limit.isEmpty() || limit.getAsLong() >= ENOUGH) {
            return Optional.empty();
        }
        return Optional.of("PerMethodTrapLimit is " + limit.getAsLong() + ": Java " + feature + "'s JIT may compile the"
                + " CPU kernels with boxed vectors once other weight types' kernels have run (on Java 17, Q4_0 decode"
                + " measured 1.1 to 2.8 times slower); start the JVM with " + FLAG
                + " (deploy/inferstream and the cluster scripts do)");
    }

    /** This JVM's {@code PerMethodTrapLimit}, read through HotSpot's diagnostic bean; empty where there is none. */
    static OptionalLong current() {
        try {
            // by reflection: jdk.management is not in every runtime image (a jlinked one may leave it out)
            @SuppressWarnings("unchecked")
            Class<? extends PlatformManagedObject> bean = (Class<? extends PlatformManagedObject>)
                    Class.forName("com.sun.management.HotSpotDiagnosticMXBean");
            Object diagnostic = ManagementFactory.getPlatformMXBean(bean);
            Object option = bean.getMethod("getVMOption", String.class).invoke(diagnostic, "PerMethodTrapLimit");
            Object value = Class.forName("com.sun.management.VMOption").getMethod("getValue").invoke(option);
            return OptionalLong.of(Long.parseLong((String) value));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return OptionalLong.empty();
        }
    }
}

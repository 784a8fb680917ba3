package io.inferstream.runtime.cuda;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * The JVM {@link EmulatedDeviceTest} starts on the emulated CUDA driver: runs the GPU tests its arguments select
 * (JUnit selector identifiers: {@code class:...}, {@code method:...}, {@code iteration:method:...[i..j]}), prints a
 * line per test as it ends, and exits 0 only when at least one test ran and every one passed: none failed, none was
 * aborted or skipped (a GPU test that skips has not run on the device).
 */
public final class EmulatedGpuRun {

    private EmulatedGpuRun() {
    }

    public static void main(String[] args) {
        List<DiscoverySelector> selectors = new ArrayList<>();
        for (String a : args) {
            selectors.add(a.startsWith("method:") && !a.contains("(") ? byName(a.substring("method:".length()))
                    : DiscoverySelectors.parse(a).orElseThrow(() -> new IllegalArgumentException("not a JUnit selector identifier: " + a)));
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectors).build();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        Launcher launcher = LauncherFactory.create();
        Progress progress = new Progress();
        launcher.execute(request, summary, progress);
        TestExecutionSummary s = summary.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 12);
        System.out.printf("emulated device: %d tests found, %d successful, %d failed, %d aborted (%d of them for want of "
                        + "a foreign-function API), %d skipped%n", s.getTestsFoundCount(), s.getTestsSucceededCount(),
                s.getTotalFailureCount(), s.getTestsAbortedCount(), progress.withoutForeign, s.getTestsSkippedCount());
        boolean passed = s.getTestsSucceededCount() > 0 && s.getTotalFailureCount() == 0
                && s.getTestsAbortedCount() == progress.withoutForeign && s.getTestsSkippedCount() == 0;
        System.exit(passed ? 0 : 1);
    }

    /** {@code Class#method} without parameter types (a parameterized test's name alone is not a selector). */
    private static DiscoverySelector byName(String classAndMethod) {
        String[] parts = classAndMethod.split("#", 2);
        try {
            Class<?> c = Class.forName(parts[0]);
            for (java.lang.reflect.Method m : c.getDeclaredMethods()) {
                if (m.getName().equals(parts[1])) {
                    return DiscoverySelectors.selectMethod(c, m);
                }
            }
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException("no test class " + parts[0], e);
        }
        throw new IllegalArgumentException("no method " + parts[1] + " in " + parts[0]);
    }

    /** One line per finished test: its result, host seconds and name (the emulation is slow: this is the progress). */
    private static final class Progress implements TestExecutionListener {
        /**
         * Programmatic launches need a foreign-function API (Java 17's incubator or Java 21's java.lang.foreign), which
         * Java 20 lacks: on such a JVM the tests of them abort saying so, and only those aborts pass.
         */
        private static final boolean NO_FOREIGN = !ProgrammaticLaunch.JAVA_HAS_MODULE && !ProgrammaticLaunch.JAVA_HAS_FFM;
        private final java.util.Map<String, Long> started = new java.util.HashMap<>();
        private int withoutForeign;

        @Override
        public void executionStarted(TestIdentifier id) {
            started.put(id.getUniqueId(), System.nanoTime());
        }

        @Override
        public void executionSkipped(TestIdentifier id, String reason) {
            System.out.println("SKIPPED " + id.getDisplayName() + ": " + reason);
        }

        @Override
        public void executionFinished(TestIdentifier id, TestExecutionResult result) {
            if (id.isTest()) {
                double s = (System.nanoTime() - started.getOrDefault(id.getUniqueId(), System.nanoTime())) / 1e9;
                String why = result.getThrowable().map(t -> ": " + t).orElse("");
                if (NO_FOREIGN && result.getStatus() == TestExecutionResult.Status.ABORTED
                        && why.contains("has no foreign-function API")) {
                    withoutForeign++;
                }
                String name = id.getLegacyReportingName().equals(id.getDisplayName()) ? id.getDisplayName()
                        : id.getLegacyReportingName() + " " + id.getDisplayName();
                System.out.printf("%-10s %6.1f s  %s%s%n", result.getStatus(), s, name, why);
            }
        }
    }
}

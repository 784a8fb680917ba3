package io.inferstream.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class StackTraceTextTest {
    /** The shape of Flink's reply to a jar run whose main threw: its wrappers, then our exception's message lines. */
    private static final String RUN_FAILED = "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not "
            + "execute application.\n\tat org.apache.flink.runtime.webmonitor.handlers.JarRunHandler.lambda$handleRequest$1(JarRunHandler.java:114)\n"
            + "Caused by: org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: "
            + "the stream job's command line ended with exit code 2; it said:\n"
            + "ERROR: --transaction-timeout 20m exceeds transaction.max.timeout.ms\n"
            + "\tat org.apache.flink.client.program.PackagedProgram.callMainMethod(PackagedProgram.java:373)\n"
            + "\t... 4 more\n"
            + "Caused by: java.lang.IllegalStateException: the stream job's command line ended with exit code 2; it said:\n"
            + "WARNING: topic 'prompts' does not exist\n"
            + "ERROR: --transaction-timeout 20m exceeds transaction.max.timeout.ms\n"
            + "\tat io.inferstream.jobs.cluster.JobManagerMain.run(JobManagerMain.java:33)\n"
            + "\t... 8 more\n";

    @Test
    void theRootCauseKeepsEveryLineOfItsMessage() {
        StackTraceText trace = new StackTraceText(RUN_FAILED);
        assertEquals("org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.",
                trace.firstLine());
        assertEquals(List.of("java.lang.IllegalStateException: the stream job's command line ended with exit code 2; "
                + "it said:", "WARNING: topic 'prompts' does not exist",
                "ERROR: --transaction-timeout 20m exceeds transaction.max.timeout.ms"), trace.rootCauseLines());
        assertEquals(trace.rootCauseLines().get(0), trace.rootCauseLine());
    }

    @Test
    void framesAndSuppressedExceptionsAreNotPartOfAMessage() {
        StackTraceText trace = new StackTraceText("java.io.IOException: outer\n\tat a.b(C.java:1)\n"
                + "Caused by: java.net.ConnectException: refused\n\tat d.e(F.java:2)\n"
                + "\tSuppressed: java.lang.IllegalStateException: while closing\n\t\tat g.h(I.java:3)\n");
        assertEquals(List.of("java.net.ConnectException: refused"), trace.rootCauseLines());
    }

    @Test
    void anExceptionWithoutCauseHasNoRootCause() {
        StackTraceText trace = new StackTraceText("java.lang.IllegalStateException: alone\n\tat a.b(C.java:1)\n");
        assertEquals(List.of(), trace.rootCauseLines());
        assertEquals("", trace.rootCauseLine());
        assertEquals("", new StackTraceText("").firstLine());
    }
}

package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.apache.logging.log4j.Logger;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.junit.jupiter.api.Test;

/**
 * The command line's logging (jobs/src/main/resources/log4j2-cli.properties, which deploy/inferstream uses): a failed
 * Flink task is one WARN line that ends with the exception, without its stack; the rest keeps whole stack traces.
 */
class CliLoggingTest {
    @Test
    void aFailedTaskIsOneLineAndOtherWarningsKeepTheirStackTraces() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8)); // the console appenders take it at start
        LoggerContext context = Configurator.initialize("cli-logging-test", null,
                Path.of("src/main/resources/log4j2-cli.properties").toUri());
        try {
            Exception failure = new IllegalStateException("model file x is truncated", new RuntimeException("inner"));
            Logger task = context.getLogger("org.apache.flink.runtime.taskmanager.Task");
            task.warn("decode -> inference (1/1)#0 switched from INITIALIZING to FAILED with failure cause:", failure);
            task.warn("a warning without an exception");
            context.getLogger("org.apache.flink.runtime.jobmaster.JobMaster")
                    .warn("Skip setting up checkpointing for a job with dynamic graph.");
            context.getLogger("org.apache.kafka.clients.Metadata").warn("other warning", failure);
        } finally {
            Configurator.shutdown(context);
            System.setErr(stderr);
        }
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertTrue(lines[0].endsWith(" WARN  Task - decode -> inference (1/1)#0 switched from INITIALIZING to FAILED "
                + "with failure cause: java.lang.IllegalStateException: model file x is truncated"), lines[0]);
        assertTrue(lines[1].endsWith(" WARN  Task - a warning without an exception"), lines[1]);
        assertTrue(lines[2].endsWith(" WARN  Metadata - other warning"), lines[2]);
        assertEquals("java.lang.IllegalStateException: model file x is truncated", lines[3]);
        assertTrue(lines[4].startsWith("\tat io.inferstream.cli.CliLoggingTest."), lines[4]);
        assertTrue(String.join("\n", lines).contains("Caused by: java.lang.RuntimeException: inner"), lines[4]);
    }
}

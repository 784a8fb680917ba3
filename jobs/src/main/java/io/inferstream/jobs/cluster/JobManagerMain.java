package io.inferstream.jobs.cluster;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.util.concurrent.Callable;
import picocli.CommandLine;

/**
 * A job's command line run as a program's main inside the JobManager ({@code /jars/:id/run}, application mode). It
 * must not call {@code System.exit}, which would stop the JobManager; and what goes wrong must come back to the
 * submitter, since the JobManager's log is on another machine. So a flag it refuses, an exception and a non-zero exit
 * code each end the main with an exception whose message says why (for an exit code: what the job printed on standard
 * error, e.g. the Kafka preflight's ERROR line); Flink returns it in the run request's reply, where
 * {@link FlinkRestClient} finds it as the root cause.
 */
final class JobManagerMain {
    private JobManagerMain() {
    }

    static void run(Callable<Integer> job, String[] args) throws Exception {
        StringWriter said = new StringWriter();
        CommandLine line = new CommandLine(job).setErr(new PrintWriter(echoedTo(said), true));
        line.parseArgs(args); // a ParameterException names the flag and what is wrong with it
        if (CommandLine.printHelpIfRequested(line.getParseResult())) {
            return;
        }
        int code = job.call();
        if (code != 0) {
            String text = said.toString().strip();
            throw new IllegalStateException("the " + line.getCommandName() + " job's command line ended with exit code "
                    + code + (text.isEmpty() ? "" : "; it said:\n" + text));
        }
    }

    /** Standard error (the JobManager's log) and {@code said}. */
    private static Writer echoedTo(StringWriter said) {
        return new Writer() {
            @Override
            public void write(char[] chars, int offset, int length) {
                said.write(chars, offset, length);
                System.err.print(new String(chars, offset, length));
            }

            @Override
            public void flush() {
                System.err.flush();
            }

            @Override
            public void close() {
                flush();
            }
        };
    }
}

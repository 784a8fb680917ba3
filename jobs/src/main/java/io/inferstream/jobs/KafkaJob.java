package io.inferstream.jobs;

import io.inferstream.jobs.kafka.KafkaPreflight;
import java.io.PrintWriter;
import java.time.Duration;

/**
 * A job command that reads Kafka (the streaming and digest jobs): the checks it runs when it starts, which
 * {@code submit} also runs on the submitting machine before it uploads the job, so that what they find is on the
 * user's screen rather than in a JobManager's log.
 */
public interface KafkaJob {
    /** How long a job waits for Kafka to answer before it warns and starts anyway. */
    Duration PREFLIGHT_TIMEOUT = Duration.ofSeconds(15);

    /** Checks among the flags that need no cluster; a ParameterException names the flags. */
    void checkFlags();

    /** The brokers, the topics the job reads and its transaction timeout, each answer awaited at most {@code timeout}. */
    KafkaPreflight.Report kafkaPreflight(Duration timeout);

    /**
     * The preflight's warnings (missing topics among them) and errors on {@code err}, a line each; false when an
     * error stops the job.
     */
    static boolean report(KafkaPreflight.Report report, PrintWriter err) {
        report.missingTopicWarnings().forEach(w -> err.println("WARNING: " + w));
        report.warnings().forEach(w -> err.println("WARNING: " + w));
        report.errors().forEach(e -> err.println("ERROR: " + e));
        err.flush();
        return report.errors().isEmpty();
    }
}

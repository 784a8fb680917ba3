package io.inferstream.jobs.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * What a job should say before it starts on a Kafka cluster: that the brokers do not answer, or that a topic it
 * reads does not exist yet. The job starts anyway (Kafka clients keep retrying, and a topic may be created later),
 * but without this a job pointed at the wrong address prints its settings and then waits without a word.
 */
public final class KafkaPreflight {

    private KafkaPreflight() {
    }

    /** Warnings for {@code bootstrapServers} and the topics the job reads (empty when all is well). */
    public static List<String> warnings(String bootstrapServers, List<String> inputTopics, Duration timeout) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        int ms = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, ms);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, ms);
        List<String> warnings = new ArrayList<>();
        try (Admin admin = Admin.create(p)) {
            Set<String> topics = admin.listTopics().names().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            for (String t : inputTopics) {
                if (!topics.contains(t)) {
                    warnings.add("topic '" + t + "' does not exist on " + bootstrapServers
                            + " (yet): the job waits for it; create it with the partitions you want");
                }
            }
        } catch (TimeoutException | ExecutionException e) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            warnings.add("no Kafka broker answered at " + bootstrapServers + " within " + timeout.toSeconds() + " s ("
                    + cause.getClass().getSimpleName() + "); the job starts anyway and its clients keep retrying");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) { // a malformed address: the job would fail the same way
            warnings.add("cannot connect to Kafka at " + bootstrapServers + ": " + e.getMessage());
        }
        return warnings;
    }
}

package io.inferstream.jobs.kafka;

import io.inferstream.jobs.HumanDuration;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.config.ConfigResource;

/**
 * What a job should say before it starts on a Kafka cluster. Warnings: the brokers do not answer, or a topic it
 * reads does not exist yet; the job starts anyway (Kafka clients keep retrying, and a topic may be created later),
 * but without them a job pointed at the wrong address prints its settings and then waits without a word. Errors:
 * its transaction timeout exceeds a broker's {@code transaction.max.timeout.ms}; every output transaction would be
 * refused, so the job must not start. Missing topics are reported apart, since whether one should stop the job
 * depends on who asks: {@code submit --wait-running} would cancel the job that fails on it.
 */
public final class KafkaPreflight {
    static final String MAX_TRANSACTION_TIMEOUT = "transaction.max.timeout.ms";

    /**
     * What the checks found: topics the job reads that do not exist on {@code bootstrapServers}, other warnings to
     * print, errors that stop the job.
     */
    public record Report(String bootstrapServers, List<String> missingTopics, List<String> warnings,
            List<String> errors) {
        /** A missing topic as a job that starts anyway says it. */
        public List<String> missingTopicWarnings() {
            return missingTopics.stream().map(t -> "topic '" + t + "' does not exist on " + bootstrapServers
                    + " (yet): the job's Kafka source fails, and the job restarts, until it does; create it with the "
                    + "partitions you want").toList();
        }
    }

    private KafkaPreflight() {
    }

    /**
     * Checks {@code bootstrapServers}, the topics the job reads and its {@code transactionTimeout} against the
     * brokers' maximum, each answer awaited at most {@code timeout}.
     */
    public static Report check(String bootstrapServers, List<String> inputTopics, Duration transactionTimeout,
            Duration timeout) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        int ms = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, ms);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, ms);
        List<String> missing = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        try (Admin admin = Admin.create(p)) {
            Set<String> topics = admin.listTopics().names().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            for (String t : inputTopics) {
                if (!topics.contains(t)) {
                    missing.add(t);
                }
            }
            checkTransactionTimeout(admin, bootstrapServers, transactionTimeout, timeout, warnings, errors);
        } catch (TimeoutException | ExecutionException e) {
            warnings.add("no Kafka broker answered at " + bootstrapServers + " within " + timeout.toSeconds() + " s ("
                    + cause(e).getClass().getSimpleName() + "); the job starts anyway and its clients keep retrying");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) { // a malformed address: the job would fail the same way
            warnings.add("cannot connect to Kafka at " + bootstrapServers + ": " + e.getMessage());
        }
        return new Report(bootstrapServers, List.copyOf(missing), List.copyOf(warnings), List.copyOf(errors));
    }

    /** The broker refuses a producer whose transaction.timeout.ms exceeds its maximum (InvalidTxnTimeoutException). */
    private static void checkTransactionTimeout(Admin admin, String bootstrapServers, Duration transactionTimeout,
            Duration timeout, List<String> warnings, List<String> errors) throws InterruptedException {
        Map<ConfigResource, Config> configs;
        try {
            Collection<Node> nodes = admin.describeCluster().nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            List<ConfigResource> brokers = nodes.stream()
                    .map(n -> new ConfigResource(ConfigResource.Type.BROKER, n.idString())).toList();
            configs = admin.describeConfigs(brokers).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) { // e.g. not authorized to describe broker configs
            warnings.add("cannot read the brokers' " + MAX_TRANSACTION_TIMEOUT + " at " + bootstrapServers + " ("
                    + cause(e).getClass().getSimpleName() + "): if --transaction-timeout "
                    + HumanDuration.format(transactionTimeout) + " exceeds it, the job fails at its first output");
            return;
        }
        for (Map.Entry<ConfigResource, Config> broker : configs.entrySet()) {
            ConfigEntry max = broker.getValue().get(MAX_TRANSACTION_TIMEOUT);
            if (max == null || max.value() == null) {
                continue;
            }
            long maxMs = Long.parseLong(max.value());
            if (transactionTimeout.toMillis() > maxMs) {
                errors.add("--transaction-timeout " + HumanDuration.format(transactionTimeout) + " exceeds "
                        + MAX_TRANSACTION_TIMEOUT + " = " + maxMs + " (" + HumanDuration.format(Duration.ofMillis(maxMs))
                        + ") of broker " + broker.getKey().name() + " at " + bootstrapServers
                        + ": the broker would refuse every output transaction; lower --transaction-timeout or raise the broker's maximum");
                return;
            }
        }
    }

    private static Throwable cause(Exception e) {
        return e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
    }
}

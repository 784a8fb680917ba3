package io.inferstream.jobs.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** deploy/local/cluster.sh run by an integration test, with its state in a folder of the test's own. */
final class ClusterScript {
    private final Path repo;
    private final Path state;
    private final Map<String, String> environment;

    /** @param environment what cluster.sh and the processes it starts get besides INFERSTREAM_STATE */
    ClusterScript(Path repo, Path state, Map<String, String> environment) {
        this.repo = repo;
        this.state = state;
        this.environment = environment;
    }

    /** Stops what a run killed half-way left behind and empties the state folder. */
    void clean() throws IOException, InterruptedException {
        if (Files.isDirectory(state)) {
            run("stop");
            try (Stream<Path> old = Files.walk(state)) {
                old.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
        Files.createDirectories(state);
    }

    /** Runs cluster.sh with {@code command}; fails the test unless it exits 0 within 300 s. Returns its output. */
    String run(String... command) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", repo.resolve("deploy/local/cluster.sh").toString()));
        cmd.addAll(List.of(command));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(repo.toFile()).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home")); // the cluster runs on the tests' Java
        pb.environment().putAll(environment);
        pb.environment().put("INFERSTREAM_STATE", state.toString());
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "cluster.sh " + String.join(" ", command) + " did not finish");
        assertEquals(0, p.exitValue(), "cluster.sh " + String.join(" ", command) + " failed:\n" + output);
        return output;
    }

    /** The endpoints (KAFKA_BOOTSTRAP=..., FLINK_REST=...) a start printed. */
    static Map<String, String> endpoints(String startOutput) {
        Map<String, String> env = new HashMap<>();
        for (String line : startOutput.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0 && line.substring(0, eq).matches("[A-Z_]+")) {
                env.put(line.substring(0, eq), line.substring(eq + 1).trim());
            }
        }
        assertTrue(env.containsKey("FLINK_REST"), "no endpoints in: " + startOutput);
        return env;
    }

    /** Stops the cluster and checks that no process that ran with the state folder on its command line is left. */
    void stopLeavingNothing() throws IOException, InterruptedException {
        run("stop");
        long leftovers = ProcessHandle.allProcesses()
                .filter(p -> p.pid() != ProcessHandle.current().pid())
                .filter(p -> p.info().commandLine().map(c -> c.contains(state.toString())).orElse(false))
                .count();
        assertEquals(0, leftovers, "processes using " + state + " are left behind");
    }
}

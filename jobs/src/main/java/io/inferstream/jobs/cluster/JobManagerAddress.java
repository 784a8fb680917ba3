package io.inferstream.jobs.cluster;

import java.net.URI;

/** A Flink JobManager REST endpoint given as {@code host:port} or {@code http://host:port}. */
public final class JobManagerAddress {
    private final String host;
    private final int port;

    private JobManagerAddress(String host, int port) {
        this.host = host;
        this.port = port;
    }

    public static JobManagerAddress parse(String text) {
        String s = text.trim();
        if (!s.contains("://")) {
            s = "http://" + s;
        }
        URI uri = URI.create(s);
        if (uri.getHost() == null || uri.getPort() <= 0) {
            throw new IllegalArgumentException("JobManager address '" + text + "' must be host:port (the REST port, e.g. localhost:8081)");
        }
        return new JobManagerAddress(uri.getHost(), uri.getPort());
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** Base URL of the REST API and the web UI. */
    public URI url() {
        return URI.create("http://" + host + ":" + port);
    }

    @Override
    public String toString() {
        return host + ":" + port;
    }
}

package io.inferstream.jobs.digest;

import io.inferstream.jobs.HumanDuration;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The event-time flags of the digest job (a picocli mixin, shared by {@code inferstream digest} and
 * {@code inferstream replay --digest}): window kind, gap or size, allowed lateness, messages per digest,
 * watermark bound and idleness. The field values are the defaults.
 */
public final class DigestWindowOptions {
    @Option(names = "--window", paramLabel = "SESSION|TUMBLING", converter = WindowKind.Converter.class,
            description = "Window kind: a session closes after --gap without messages; tumbling windows are --size long (default: ${DEFAULT-VALUE}).")
    public WindowKind window = WindowKind.SESSION;

    @Option(names = "--gap", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Session windows: the silence that closes a session (default: 10m).")
    public Duration gap = Duration.ofMinutes(10);

    @Option(names = "--size", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Tumbling windows: their size (default: 15m).")
    public Duration size = Duration.ofMinutes(15);

    @Option(names = "--allowed-lateness", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Late messages up to this long after a window's end revise its digest; later ones are dead-lettered (default: 10m).")
    public Duration allowedLateness = Duration.ofMinutes(10);

    @Option(names = "--max-messages", paramLabel = "N",
            description = "A window with more messages is digested in parts of at most N (default: ${DEFAULT-VALUE}).")
    public int maxMessages = 200;

    @Option(names = "--out-of-orderness", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Watermark bound: how far behind the newest event time a message may be and still be on time (default: 30s).")
    public Duration outOfOrderness = Duration.ofSeconds(30);

    @Option(names = "--idleness", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "A source partition silent this long stops holding event time back; 0 = never (default: 1m).")
    public Duration idleness = Duration.ofMinutes(1);

    public DigestWindowing windowing() {
        return new DigestWindowing(window, window == WindowKind.SESSION ? gap : size, allowedLateness, outOfOrderness,
                idleness, maxMessages);
    }

    /** These settings by flag name, for the start-up listing. */
    public Map<String, String> settings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("window", window.name().toLowerCase(Locale.ROOT));
        if (window == WindowKind.SESSION) {
            s.put("gap", HumanDuration.format(gap));
        } else {
            s.put("size", HumanDuration.format(size));
        }
        s.put("allowed-lateness", HumanDuration.format(allowedLateness));
        s.put("max-messages", Integer.toString(maxMessages));
        s.put("out-of-orderness", HumanDuration.format(outOfOrderness));
        s.put("idleness", idleness.isZero() ? "off" : HumanDuration.format(idleness));
        return s;
    }
}

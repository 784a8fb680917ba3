package io.inferstream.jobs.digest;

/** How a conversation's messages are grouped into windows. */
public enum WindowKind {
    /** A window closes after a gap without messages (Flink event-time session windows). */
    SESSION,
    /** Fixed, back-to-back windows of one size, aligned to the epoch (Flink tumbling event-time windows). */
    TUMBLING;

    /** Reads a kind by name, in any case ({@code session}, {@code TUMBLING}). */
    public static WindowKind parse(String name) {
        for (WindowKind k : values()) {
            if (k.name().equalsIgnoreCase(name.strip())) {
                return k;
            }
        }
        throw new IllegalArgumentException("window kind must be session or tumbling, got '" + name + "'");
    }

    /** The picocli converter of {@code --window}. */
    public static final class Converter implements picocli.CommandLine.ITypeConverter<WindowKind> {
        @Override
        public WindowKind convert(String value) {
            return parse(value);
        }
    }
}

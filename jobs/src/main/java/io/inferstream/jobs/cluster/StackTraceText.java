package io.inferstream.jobs.cluster;

import java.util.ArrayList;
import java.util.List;

/**
 * A Java stack trace as the Flink REST API returns it, as text: the exception's first line, and its root cause (the
 * last "Caused by"). Flink wraps what went wrong in its own exceptions ("Could not execute application.", "Global
 * failure triggered by OperatorCoordinator …"), so the message that says what to fix is usually the root cause.
 */
public record StackTraceText(String text) {
    private static final String CAUSED_BY = "Caused by: ";

    /** The first line: the outermost exception and the first line of its message. */
    public String firstLine() {
        return text.lines().findFirst().map(String::strip).orElse("");
    }

    /** The root cause's first line, without "Caused by: "; empty when the exception has no cause. */
    public String rootCauseLine() {
        List<String> root = rootCauseLines();
        return root.isEmpty() ? "" : root.get(0);
    }

    /**
     * The root cause with every line of its message (a message may span lines; its frames start with a tab), without
     * "Caused by: "; empty when the exception has no cause.
     */
    public List<String> rootCauseLines() {
        List<String> root = new ArrayList<>();
        boolean inMessage = false;
        for (String line : text.lines().toList()) {
            if (line.startsWith(CAUSED_BY)) {
                root.clear();
                root.add(line.substring(CAUSED_BY.length()).strip());
                inMessage = true;
            } else if (line.startsWith("\tat ") || line.startsWith("\t... ") || line.startsWith("\tSuppressed: ")) {
                inMessage = false;
            } else if (inMessage) {
                root.add(line.stripTrailing());
            }
        }
        return root;
    }
}

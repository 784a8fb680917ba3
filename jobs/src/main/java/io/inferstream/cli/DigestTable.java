package io.inferstream.cli;

import io.inferstream.schema.Digest;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/** Digests as a text table: conversation, window, revision and part, message count, chunks, first line of the summary. */
final class DigestTable {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);
    private static final int SUMMARY_WIDTH = 60;

    private DigestTable() {
    }

    static String of(List<Digest> digests) {
        List<Digest> sorted = digests.stream()
                .sorted(Comparator.comparing(Digest::getConversationId).thenComparing(Digest::getWindowStart)
                        .thenComparing(Digest::getRevision).thenComparing(Digest::getPart))
                .collect(Collectors.toList());
        int conv = Math.max("conversation".length(), sorted.stream().mapToInt(d -> d.getConversationId().length()).max().orElse(0));
        String format = "%-" + conv + "s  %-19s  %3s  %5s  %8s  %6s  %s%n";
        StringBuilder b = new StringBuilder();
        b.append(String.format(format, "conversation", "window (UTC)", "rev", "part", "messages", "chunks", "summary (first line)"));
        for (Digest d : sorted) {
            String window = TIME.format(d.getWindowStart()) + "–" + TIME.format(d.getWindowEnd());
            String part = d.getParts() == 1 ? "-" : (d.getPart() + 1) + "/" + d.getParts();
            b.append(String.format(format, d.getConversationId(), window, d.getRevision(), part, d.getMessageCount(),
                    d.getChunks(), firstLine(d)));
        }
        return b.toString();
    }

    /** The summary's first line, cut to the table width; the error when there is no summary. */
    static String firstLine(Digest d) {
        String text = d.getSummary() == null ? "ERROR: " + d.getError() : d.getSummary();
        String line = text.strip().lines().findFirst().orElse("");
        return line.length() <= SUMMARY_WIDTH ? line : line.substring(0, SUMMARY_WIDTH - 1) + "…";
    }
}

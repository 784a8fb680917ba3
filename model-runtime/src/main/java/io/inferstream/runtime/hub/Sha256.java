package io.inferstream.runtime.hub;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/** SHA-256 of files, as lowercase hex (the form the Hub puts in the ETag of LFS files). */
public final class Sha256 {

    private static final Pattern HEX64 = Pattern.compile("[0-9a-fA-F]{64}");

    private Sha256() {
    }

    public static String of(Path file) throws IOException {
        MessageDigest digest = newDigest();
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    public static String of(byte[] data) {
        return HexFormat.of().formatHex(newDigest().digest(data));
    }

    /** True for 64 hex digits. */
    public static boolean isSha256Hex(String s) {
        return s != null && HEX64.matcher(s).matches();
    }

    /**
     * The sha256 carried by an ETag header value, or null: strips a weak prefix {@code W/} and the quotes;
     * 64 hex digits are a sha256 (Hub LFS files), anything else (git blob sha1, CDN md5) is not.
     */
    public static String fromEtag(String etag) {
        if (etag == null) {
            return null;
        }
        String s = etag.trim();
        if (s.startsWith("W/")) {
            s = s.substring(2);
        }
        if (s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")) {
            s = s.substring(1, s.length() - 1);
        }
        return isSha256Hex(s) ? s.toLowerCase(Locale.ROOT) : null;
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("Every Java platform has SHA-256", e);
        }
    }
}

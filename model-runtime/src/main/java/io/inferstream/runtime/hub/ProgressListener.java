package io.inferstream.runtime.hub;

/**
 * Told how a download advances. {@link #update} may be called from an HTTP client thread, once per
 * received chunk; implementations throttle their own output.
 */
@FunctionalInterface
public interface ProgressListener {

    /** A listener that shows nothing. */
    ProgressListener NONE = (done, total, bytesPerSecond) -> { };

    /**
     * @param done           bytes of the file present so far, including a resumed prefix
     * @param total          file size in bytes, or -1 when the server did not say
     * @param bytesPerSecond average transfer rate of this attempt
     */
    void update(long done, long total, double bytesPerSecond);

    /** A transfer attempt starts with {@code done} bytes already present (a resumed partial file). */
    default void start(String label, long done, long total) {
    }

    /** The download ended: verified and in place ({@code success}), or failed. */
    default void finish(long done, boolean success) {
    }
}

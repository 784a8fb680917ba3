package io.inferstream.runtime.hub;

import java.io.IOException;
import java.net.URI;

/**
 * A download that failed. The message names the URL (without any query string a CDN signed) and
 * says what to do; it never contains the access token.
 */
public class DownloadException extends IOException {

    private static final long serialVersionUID = 1L;

    private final URI url;
    private final int status;
    private final boolean retryable;

    /**
     * @param status    the HTTP status, or 0 when the failure was not an HTTP answer
     * @param retryable whether another attempt may succeed (connection lost, timeout, 5xx)
     */
    public DownloadException(String message, URI url, int status, boolean retryable, Throwable cause) {
        super(message, cause);
        this.url = url;
        this.status = status;
        this.retryable = retryable;
    }

    public URI url() {
        return url;
    }

    /** The HTTP status, or 0 when the failure was not an HTTP answer. */
    public int status() {
        return status;
    }

    public boolean retryable() {
        return retryable;
    }
}

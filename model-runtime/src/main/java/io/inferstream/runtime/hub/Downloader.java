package io.inferstream.runtime.hub;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads one file over HTTP(S) into place, safely:
 * <ul>
 *   <li>bytes go to {@code <file>.part}; a part left by an interrupted run is resumed with
 *       {@code Range: bytes=N-} (a 206 appends; a server that ignores Range answers 200 and the part
 *       restarts from zero);</li>
 *   <li>the size (Content-Length / Content-Range total / X-Linked-Size) and, when known, the sha256
 *       (caller-supplied, else {@code X-Linked-Etag} / {@code ETag} when it is 64 hex digits, as the Hub
 *       sends for LFS files) are verified before the part is atomically renamed to the file; a part with a
 *       wrong checksum is deleted;</li>
 *   <li>redirects are followed by hand so that {@code Authorization} only goes to the origin it was meant
 *       for (the Hub redirects to a CDN);</li>
 *   <li>lost connections, stalls, 408/429 and 5xx answers are retried with exponential backoff, resuming
 *       where the part file ends.</li>
 * </ul>
 * The token is never logged and never put in a message.
 */
public final class Downloader {

    private static final Logger LOG = LoggerFactory.getLogger(Downloader.class);
    private static final int MAX_REDIRECTS = 10;
    private static final long POLL_MILLIS = 50;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)");
    private static final Pattern UNSATISFIED_RANGE = Pattern.compile("bytes\\s+\\*/(\\d+)");

    private final HttpClient client;
    private final String token;
    private final ProgressListener progress;
    private final int maxAttempts;
    private final Duration initialBackoff;
    private final Duration maxBackoff;
    private final Duration readTimeout;
    private final String userAgent;

    private Downloader(Builder b) {
        this.client = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(b.connectTimeout)
                .build();
        this.token = b.token;
        this.progress = b.progress;
        this.maxAttempts = b.maxAttempts;
        this.initialBackoff = b.initialBackoff;
        this.maxBackoff = b.maxBackoff;
        this.readTimeout = b.readTimeout;
        this.userAgent = b.userAgent;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Downloads {@code url} to {@code target} unless {@code target} exists already (only verified files are
     * ever renamed into place, so an existing target is complete).
     *
     * @param expectedSha256 64 hex digits the file must hash to, or null to use the server's ETag if it is one
     * @return {@code target}
     */
    @SuppressWarnings("try") // the lock is held for the duration of the block, never referenced
    public Path download(URI url, Path target, String expectedSha256) throws IOException {
        if (expectedSha256 != null && !Sha256.isSha256Hex(expectedSha256)) {
            throw new IllegalArgumentException("Expected sha256 must be 64 hex digits, got '" + expectedSha256 + "'");
        }
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path part = sibling(target, ".part");
        try (CacheLock lock = CacheLock.acquire(sibling(target, ".lock"))) {
            if (Files.isRegularFile(target)) {
                return target; // another thread or process finished it while we waited for the lock
            }
            String label = target.getFileName().toString();
            LOG.info("Downloading {} to {}", safe(url), target);
            for (int attempt = 1; ; attempt++) {
                try {
                    Transfer transfer = transfer(url, part, label);
                    verifyAndMove(url, part, target, transfer, expectedSha256);
                    progress.finish(Files.size(target), true);
                    LOG.info("Downloaded {} to {}", safe(url), target);
                    return target;
                } catch (DownloadException e) {
                    if (!e.retryable() || attempt >= maxAttempts) {
                        progress.finish(sizeOrZero(part), false);
                        if (!e.retryable()) {
                            throw e;
                        }
                        throw new DownloadException((attempt > 1 ? "Download failed after " + attempt + " attempts: " : "")
                                + e.getMessage() + (Files.exists(part)
                                        ? " (the partial file " + part + " is kept; running again resumes it)" : ""),
                                e.url(), e.status(), true, e);
                    }
                    long waitMillis = backoffMillis(attempt);
                    LOG.warn("Attempt {}/{} failed: {}; retrying in {} ms", attempt, maxAttempts, e.getMessage(), waitMillis);
                    sleep(waitMillis, url);
                }
            }
        }
    }

    /** What the server said about the file it sent. */
    private record Transfer(long total, String sha256) {
    }

    /** One GET (following redirects) that writes or extends the part file. */
    private Transfer transfer(URI url, Path part, String label) throws IOException {
        long have = sizeOrZero(part);
        String linkedSha = null;
        long linkedSize = -1;
        URI current = url;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder request = HttpRequest.newBuilder(current).GET()
                    .timeout(readTimeout)
                    .header("User-Agent", userAgent);
            if (have > 0) {
                request.header("Range", "bytes=" + have + "-");
            }
            if (token != null && sameOrigin(current, url)) {
                request.header("Authorization", "Bearer " + token);
            }
            ResponseRouter router = new ResponseRouter(part, have, label);
            HttpResponse<Long> response = await(client.sendAsync(request.build(), router::route), router, url);
            HttpHeaders headers = response.headers();
            // The Hub puts the LFS sha256 and size on its redirect answer; the CDN's own ETag may be an md5.
            if (linkedSha == null) {
                linkedSha = Sha256.fromEtag(headers.firstValue("X-Linked-Etag").orElse(null));
            }
            if (linkedSize < 0) {
                linkedSize = parseLong(headers.firstValue("X-Linked-Size").orElse(null));
            }
            int status = response.statusCode();
            if (isRedirect(status)) {
                String location = headers.firstValue("Location").orElseThrow(() -> fail(
                        "HTTP " + status + " redirect without a Location header from " + safe(url), url, status, false, null));
                current = redirectTarget(current, location, url);
                LOG.debug("Redirected to {}", origin(current));
                continue;
            }
            String sha = linkedSha != null ? linkedSha : Sha256.fromEtag(headers.firstValue("ETag").orElse(null));
            if (status == 200 || status == 206) {
                if (router.rangeMismatch) {
                    Files.deleteIfExists(part);
                    throw fail("The server answered a different byte range than requested (bytes=" + have + "-) for "
                            + safe(url) + "; restarting from zero", url, status, true, null);
                }
                long total = status == 206 ? contentRangeTotal(headers) : headers.firstValueAsLong("Content-Length").orElse(-1);
                return new Transfer(total >= 0 ? total : linkedSize, sha);
            }
            if (status == 416) {
                Matcher m = UNSATISFIED_RANGE.matcher(headers.firstValue("Content-Range").orElse(""));
                if (m.matches() && Long.parseLong(m.group(1)) == have) {
                    return new Transfer(have, sha); // the part file already holds every byte
                }
                Files.deleteIfExists(part);
                throw fail("The partial file (" + have + " bytes) does not fit the remote file " + safe(url)
                        + " (HTTP 416); restarting from zero", url, status, true, null);
            }
            throw httpError(url, current, status, headers);
        }
        throw fail("More than " + MAX_REDIRECTS + " redirects from " + safe(url), url, 0, false, null);
    }

    /**
     * Chooses, when the status and headers arrive, where the body goes: into the part file for 200/206,
     * nowhere for redirects and errors.
     */
    private final class ResponseRouter {
        private final Path part;
        private final long have;
        private final String label;
        private final long sentNanos = System.nanoTime();
        private volatile PartFileWriter writer;
        private volatile boolean rangeMismatch;

        ResponseRouter(Path part, long have, String label) {
            this.part = part;
            this.have = have;
            this.label = label;
        }

        HttpResponse.BodySubscriber<Long> route(HttpResponse.ResponseInfo info) {
            int status = info.statusCode();
            HttpHeaders h = info.headers();
            if (status == 200) {
                if (have > 0) {
                    LOG.info("Server ignored the Range request; downloading {} again from zero", label);
                }
                return start(false, 0, h.firstValueAsLong("Content-Length").orElse(-1));
            }
            if (status == 206) {
                Matcher m = CONTENT_RANGE.matcher(h.firstValue("Content-Range").orElse(""));
                if (!m.matches() || Long.parseLong(m.group(1)) != have) {
                    rangeMismatch = true;
                    return HttpResponse.BodySubscribers.replacing(-1L);
                }
                if (have > 0) {
                    LOG.info("Resuming {} at byte {}", label, have);
                }
                return start(true, have, m.group(3).equals("*") ? -1 : Long.parseLong(m.group(3)));
            }
            return HttpResponse.BodySubscribers.replacing(0L);
        }

        private PartFileWriter start(boolean append, long done, long total) {
            long startNanos = System.nanoTime();
            progress.start(label, done, total);
            PartFileWriter w = new PartFileWriter(part, append, done, present -> {
                double seconds = Math.max(1e-3, (System.nanoTime() - startNanos) / 1e9);
                progress.update(present, total, (present - done) / seconds);
            });
            writer = w;
            return w;
        }

        long lastActivityNanos() {
            PartFileWriter w = writer;
            return w != null ? w.lastDataNanos() : sentNanos;
        }
    }

    /** Waits for the exchange, aborting it when no data arrived for {@code readTimeout}. */
    private HttpResponse<Long> await(CompletableFuture<HttpResponse<Long>> future, ResponseRouter router, URI url)
            throws IOException {
        try {
            while (true) {
                try {
                    return future.get(POLL_MILLIS, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    if (System.nanoTime() - router.lastActivityNanos() > readTimeout.toNanos()) {
                        abort(future, router);
                        throw fail("No data received for " + readTimeout.toMillis() + " ms from " + safe(url) + " (timeout)",
                                url, 0, true, null);
                    }
                }
            }
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof PartFileWriter.LocalWriteException) {
                throw fail(cause.getMessage(), url, 0, false, cause);
            }
            if (cause instanceof HttpTimeoutException) {
                throw fail("Timed out waiting for " + safe(url) + " (" + cause.getMessage() + ")", url, 0, true, cause);
            }
            if (cause instanceof ConnectException) {
                throw fail("Cannot connect to " + origin(url) + " for " + safe(url) + ": " + cause, url, 0, true, cause);
            }
            if (cause instanceof IOException) {
                throw fail("Connection lost while downloading " + safe(url) + ": " + cause, url, 0, true, cause);
            }
            throw fail("Download of " + safe(url) + " failed: " + cause, url, 0, false, cause);
        } catch (InterruptedException e) {
            abort(future, router);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("Download of " + safe(url) + " interrupted");
        }
    }

    private static void abort(CompletableFuture<?> future, ResponseRouter router) {
        PartFileWriter w = router.writer;
        if (w != null) {
            w.abort();
        }
        future.cancel(true);
    }

    private void verifyAndMove(URI url, Path part, Path target, Transfer transfer, String expectedSha256) throws IOException {
        long size = sizeOrZero(part);
        if (transfer.total() >= 0 && size < transfer.total()) {
            throw fail("Connection ended after " + size + " of " + transfer.total() + " bytes of " + safe(url),
                    url, 0, true, null);
        }
        if (transfer.total() >= 0 && size > transfer.total()) {
            Files.deleteIfExists(part);
            throw fail("Size mismatch for " + safe(url) + ": the server announced " + transfer.total()
                    + " bytes but " + size + " arrived; the partial file was deleted", url, 0, false, null);
        }
        String expected = expectedSha256 != null ? expectedSha256.toLowerCase(Locale.ROOT) : transfer.sha256();
        if (expected != null) {
            String actual = Sha256.of(part);
            if (!actual.equals(expected)) {
                Files.deleteIfExists(part);
                throw fail("Checksum mismatch for " + safe(url) + ": expected sha256 " + expected + ", got " + actual
                        + " (" + size + " bytes); the downloaded file was deleted. Run again to download it anew;"
                        + " if it fails again the expected checksum or the file on the server is wrong.",
                        url, 0, false, null);
            }
        } else {
            LOG.info("No sha256 known for {}; verified its size only", safe(url));
        }
        try {
            Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private DownloadException httpError(URI url, URI current, int status, HttpHeaders headers) {
        String where = safe(url) + (sameOrigin(current, url) ? "" : " (redirected to " + origin(current) + ")");
        String server = headers.firstValue("X-Error-Message").map(m -> " (server says: " + m + ")").orElse("");
        if (status == 401 || status == 403) {
            String advice = token != null
                    ? "A token (HF_TOKEN) was sent but gives no access to this repository; for a gated model,"
                            + " accept its licence on the Hub with the token's account."
                    : "If the repository is private or gated, set HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) to a"
                            + " Hugging Face access token. (The Hub also answers 401 for a repository that does not exist.)";
            return fail("HTTP " + status + " from " + where + ": access denied" + server + ". " + advice, url, status, false, null);
        }
        if (status == 404) {
            return fail("HTTP 404 Not Found: " + where + server, url, status, false, null);
        }
        boolean retryable = status == 408 || status == 429 || status >= 500;
        return fail("HTTP " + status + " from " + where + server, url, status, retryable, null);
    }

    /** Builds an exception whose message can never carry the token, whatever a server echoed back. */
    private DownloadException fail(String message, URI url, int status, boolean retryable, Throwable cause) {
        String text = token == null ? message : message.replace(token, "***");
        return new DownloadException(text, url, status, retryable, cause);
    }

    private static URI redirectTarget(URI current, String location, URI url) throws DownloadException {
        try {
            URI next = current.resolve(new URI(location));
            if (!"http".equalsIgnoreCase(next.getScheme()) && !"https".equalsIgnoreCase(next.getScheme())) {
                throw new URISyntaxException(location, "not an http(s) URL");
            }
            return next;
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw new DownloadException("Invalid redirect from " + safe(url) + ": " + e.getMessage(), url, 0, false, e);
        }
    }

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    /** Same scheme, host and port: the only place an Authorization header may go. */
    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme())
                && a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI u) {
        if (u.getPort() >= 0) {
            return u.getPort();
        }
        return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private static String origin(URI u) {
        return u.getScheme() + "://" + u.getHost() + (u.getPort() >= 0 ? ":" + u.getPort() : "");
    }

    /** The URL without query or fragment: CDN redirects carry signatures there that do not belong in logs. */
    static String safe(URI u) {
        String s = u.toString();
        int cut = s.length();
        for (char c : new char[] {'?', '#'}) {
            int i = s.indexOf(c);
            if (i >= 0) {
                cut = Math.min(cut, i);
            }
        }
        return s.substring(0, cut);
    }

    private static long contentRangeTotal(HttpHeaders h) {
        Matcher m = CONTENT_RANGE.matcher(h.firstValue("Content-Range").orElse(""));
        return m.matches() && !m.group(3).equals("*") ? Long.parseLong(m.group(3)) : -1;
    }

    private static long parseLong(String s) {
        try {
            return s == null ? -1 : Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static long sizeOrZero(Path p) throws IOException {
        return Files.isRegularFile(p) ? Files.size(p) : 0;
    }

    static Path sibling(Path file, String suffix) {
        return file.resolveSibling(file.getFileName() + suffix);
    }

    private long backoffMillis(int attempt) {
        long millis = initialBackoff.toMillis() << Math.min(attempt - 1, 20);
        return Math.min(millis, maxBackoff.toMillis());
    }

    private static void sleep(long millis, URI url) throws InterruptedIOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("Download of " + safe(url) + " interrupted");
        }
    }

    /** Configures a {@link Downloader}; the defaults suit downloading large models over the internet. */
    public static final class Builder {
        private String token;
        private ProgressListener progress = ProgressListener.NONE;
        private int maxAttempts = 5;
        private Duration initialBackoff = Duration.ofSeconds(1);
        private Duration maxBackoff = Duration.ofSeconds(30);
        private Duration connectTimeout = Duration.ofSeconds(30);
        private Duration readTimeout = Duration.ofSeconds(60);
        private String userAgent = "inferstream/0.1 (java.net.http)";

        private Builder() {
        }

        /** Sent as {@code Authorization: Bearer} to the URL's own origin only; null for none. */
        public Builder token(String value) {
            this.token = value == null || value.isBlank() ? null : value;
            return this;
        }

        public Builder progress(ProgressListener listener) {
            this.progress = Objects.requireNonNull(listener);
            return this;
        }

        /** Attempts per download (1 = no retry). */
        public Builder maxAttempts(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxAttempts must be at least 1, got " + n);
            }
            this.maxAttempts = n;
            return this;
        }

        /** Wait before the second attempt; doubles each time up to {@code max}. */
        public Builder backoff(Duration initial, Duration max) {
            this.initialBackoff = initial;
            this.maxBackoff = max;
            return this;
        }

        public Builder connectTimeout(Duration d) {
            this.connectTimeout = d;
            return this;
        }

        /** Longest wait for the response headers or for the next data of the body. */
        public Builder readTimeout(Duration d) {
            this.readTimeout = d;
            return this;
        }

        public Builder userAgent(String value) {
            this.userAgent = value;
            return this;
        }

        public Downloader build() {
            return new Downloader(this);
        }
    }
}

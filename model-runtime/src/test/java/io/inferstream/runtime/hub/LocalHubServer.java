package io.inferstream.runtime.hub;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A real HTTP server on 127.0.0.1 that serves files the way the Hub does: full content (200) or a byte
 * range (206 with Content-Range, 416 past the end), an ETag holding the file's sha256, and the faults a
 * download must survive, each switched on per test: a connection cut after some bytes, a Range header
 * ignored, a stalled body, an error status, a token requirement, a redirect to another server.
 * Every request is recorded with its headers and the body bytes sent.
 */
public final class LocalHubServer implements AutoCloseable {

    /** One request as the server saw it, recorded when it arrives; bytes and status fill in as it is answered. */
    public static final class Request {
        private final String method;
        private final String path;
        private final Map<String, String> headers;
        private final AtomicLong bodyBytesSent = new AtomicLong();
        private volatile int status;

        Request(String method, String path, Map<String, String> headers) {
            this.method = method;
            this.path = path;
            this.headers = Map.copyOf(headers);
        }

        public String method() {
            return method;
        }

        public String path() {
            return path;
        }

        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        public long bodyBytesSent() {
            return bodyBytesSent.get();
        }

        public int status() {
            return status;
        }
    }

    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    private final Map<String, byte[]> files = new ConcurrentHashMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final AtomicLong bodyBytesSent = new AtomicLong();
    private final CountDownLatch closing = new CountDownLatch(1);

    /** The next {@code cutCount} file responses stop after {@code cutAfterBytes} body bytes and drop the connection. */
    final AtomicInteger cutCount = new AtomicInteger();
    volatile int cutAfterBytes;
    /** The next {@code stallCount} file responses send {@code cutAfterBytes} bytes, then nothing until closed. */
    final AtomicInteger stallCount = new AtomicInteger();
    /** Answer 200 with the whole file even when a Range is asked (some servers and proxies do). */
    volatile boolean ignoreRange;
    /** Overrides the ETag (quoted as sent); null = the file's sha256. */
    volatile String etag;
    /** The next {@code statusCount} requests are answered with {@code status} and no file. */
    final AtomicInteger statusCount = new AtomicInteger();
    volatile int status;
    /** When set, requests without {@code Authorization: Bearer <token>} get 401. */
    volatile String requiredToken;
    /** When set, file requests are redirected (302) there, Hub-style, with X-Linked-Etag / X-Linked-Size. */
    volatile URI redirectBase;
    /** When set, paths under {@code renamedFrom} get a relative 307 to the same path under {@code renamedTo} (a renamed repo). */
    volatile String renamedFrom;
    volatile String renamedTo;
    private volatile CountDownLatch hold;
    private volatile CountDownLatch holdBody;
    private volatile long holdBodyAfter;

    public LocalHubServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    /** {@code http://127.0.0.1:<port>} */
    public URI baseUrl() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    public void put(String path, byte[] content) {
        files.put(path, content);
    }

    /** Requests without {@code Authorization: Bearer <token>} get 401 from now on. */
    public void requireToken(String token) {
        requiredToken = token;
    }

    /** File responses wait (at most two minutes) until {@code gate} opens: a download that is still going on. */
    public void holdFilesUntil(CountDownLatch gate) {
        hold = gate;
    }

    /**
     * The next file response sends {@code bytes} of its body, then waits (at most two minutes) until {@code gate}
     * opens before it sends the rest: a download caught half-way.
     */
    public void holdBodyOnceAfter(long bytes, CountDownLatch gate) {
        holdBodyAfter = bytes;
        holdBody = gate;
    }

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    /** Body bytes of files sent so far, over all requests. */
    public long bodyBytesSent() {
        return bodyBytesSent.get();
    }

    private void handle(HttpExchange ex) throws IOException {
        Map<String, String> headers = new ConcurrentHashMap<>();
        ex.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), String.join(",", v)));
        Request request = new Request(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), headers);
        requests.add(request);
        respond(ex, request);
    }

    private void respond(HttpExchange ex, Request request) throws IOException {
        String path = request.path;
        Map<String, String> headers = request.headers;
        byte[] file = files.get(path);
        if (statusCount.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            ex.getResponseHeaders().add("X-Error-Message", "Injected status " + status);
            empty(ex, request, status);
            return;
        }
        if (requiredToken != null && !("Bearer " + requiredToken).equals(headers.get("authorization"))) {
            ex.getResponseHeaders().add("X-Error-Message", "Invalid credentials in Authorization header");
            empty(ex, request, 401);
            return;
        }
        if (renamedFrom != null && path.startsWith(renamedFrom)) {
            ex.getResponseHeaders().add("Location", renamedTo + path.substring(renamedFrom.length()));
            empty(ex, request, 307);
            return;
        }
        if (file == null) {
            ex.getResponseHeaders().add("X-Error-Message", "Entry not found");
            empty(ex, request, 404);
            return;
        }
        CountDownLatch gate = hold;
        if (gate != null) {
            awaitQuietly(gate);
        }
        String sha = Sha256.of(file);
        if (redirectBase != null) {
            ex.getResponseHeaders().add("Location", redirectBase.resolve(path).toString() + "?signature=abc");
            ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha + "\"");
            ex.getResponseHeaders().add("X-Linked-Size", Long.toString(file.length));
            empty(ex, request, 302);
            return;
        }
        ex.getResponseHeaders().add("ETag", etag != null ? etag : "\"" + sha + "\"");
        ex.getResponseHeaders().add("Accept-Ranges", "bytes");
        long start = 0;
        Matcher m = RANGE.matcher(headers.getOrDefault("range", ""));
        if (m.matches() && !ignoreRange) {
            start = Long.parseLong(m.group(1));
            if (start >= file.length) {
                ex.getResponseHeaders().add("Content-Range", "bytes */" + file.length);
                empty(ex, request, 416);
                return;
            }
        }
        int code = start > 0 ? 206 : 200;
        if (code == 206) {
            ex.getResponseHeaders().add("Content-Range", "bytes " + start + "-" + (file.length - 1) + "/" + file.length);
        }
        long length = file.length - start;
        ex.sendResponseHeaders(code, length);
        request.status = code;
        OutputStream body = ex.getResponseBody();
        boolean cut = cutCount.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
        boolean stall = !cut && stallCount.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
        long limit = cut || stall ? Math.min(length, cutAfterBytes) : length;
        CountDownLatch bodyGate;
        synchronized (this) {
            bodyGate = holdBody;
            holdBody = null;
        }
        long holdAt = bodyGate == null ? -1 : Math.min(holdBodyAfter, limit);
        for (long off = 0; off < limit; ) {
            if (off == holdAt) {
                body.flush();
                awaitQuietly(bodyGate);
            }
            int n = (int) Math.min(64 * 1024, (holdAt > off ? holdAt : limit) - off);
            body.write(file, (int) (start + off), n);
            off += n;
            request.bodyBytesSent.addAndGet(n);
            bodyBytesSent.addAndGet(n);
        }
        body.flush();
        if (stall) {
            awaitClose();
        }
        if (cut || stall) {
            // An exception out of the handler makes the server drop the connection mid-body.
            throw new IOException("connection cut by the test after " + limit + " bytes");
        }
        body.close();
    }

    private static void awaitQuietly(CountDownLatch gate) {
        try {
            gate.await(2, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void awaitClose() {
        try {
            closing.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void empty(HttpExchange ex, Request request, int code) throws IOException {
        request.status = code;
        ex.sendResponseHeaders(code, -1);
        ex.close();
    }

    @Override
    public void close() {
        closing.countDown();
        server.stop(0);
        executor.shutdownNow();
    }
}

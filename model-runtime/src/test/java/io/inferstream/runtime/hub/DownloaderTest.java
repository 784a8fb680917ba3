package io.inferstream.runtime.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The downloader against a real HTTP server on 127.0.0.1 with Range support and injected faults. */
class DownloaderTest {

    private static final String FILE_PATH = "/acme/tiny-model/resolve/main/weights.bin";
    private static final int SIZE = 3 * 1024 * 1024 + 12_345; // a few MB, not a multiple of any buffer
    private static final byte[] CONTENT = randomBytes(SIZE, 42);

    @TempDir
    Path dir;

    private LocalHubServer server;
    private Path target;

    @BeforeEach
    void startServer() throws IOException {
        server = new LocalHubServer();
        server.put(FILE_PATH, CONTENT);
        target = dir.resolve("weights.bin");
    }

    @AfterEach
    void stopServer() {
        server.close();
    }

    private URI url() {
        return server.baseUrl().resolve(FILE_PATH);
    }

    private static Downloader.Builder fast() {
        return Downloader.builder().backoff(Duration.ofMillis(5), Duration.ofMillis(20)).readTimeout(Duration.ofSeconds(5));
    }

    @Test
    void downloadsWholeFileVerifiedByEtagSha256AndLeavesNoPartFile() throws IOException {
        List<long[]> updates = new CopyOnWriteArrayList<>();
        Downloader d = fast().progress((done, total, rate) -> updates.add(new long[] {done, total})).build();

        assertEquals(target, d.download(url(), target, null));

        assertArrayEquals(CONTENT, Files.readAllBytes(target));
        assertFalse(Files.exists(Downloader.sibling(target, ".part")));
        assertEquals(1, server.requests().size());
        LocalHubServer.Request r = server.requests().get(0);
        assertNull(r.header("Range"), "a fresh download asks for the whole file");
        assertNull(r.header("Authorization"), "no token configured, no Authorization header");
        assertEquals(SIZE, server.bodyBytesSent());
        long[] last = updates.get(updates.size() - 1);
        assertEquals(SIZE, last[0]);
        assertEquals(SIZE, last[1]);
    }

    @Test
    void resumesWithRangeAfterTheConnectionIsCut() throws IOException {
        int cutAt = 1024 * 1024;
        server.cutAfterBytes = cutAt;
        server.cutCount.set(1);

        fast().maxAttempts(3).build().download(url(), target, null);

        assertArrayEquals(CONTENT, Files.readAllBytes(target));
        List<LocalHubServer.Request> rs = server.requests();
        assertEquals(2, rs.size());
        assertNull(rs.get(0).header("Range"));
        assertEquals(cutAt, rs.get(0).bodyBytesSent());
        assertEquals("bytes=" + cutAt + "-", rs.get(1).header("Range"));
        assertEquals(206, rs.get(1).status());
        // every byte was sent exactly once: the second request continued, it did not start over
        assertEquals(SIZE, server.bodyBytesSent());
    }

    @Test
    void resumesPartFileLeftByAnEarlierFailedRun() throws IOException {
        int cutAt = 700_000;
        server.cutAfterBytes = cutAt;
        server.cutCount.set(1);

        DownloadException e = assertThrows(DownloadException.class,
                () -> fast().maxAttempts(1).build().download(url(), target, null));
        assertTrue(e.retryable());
        assertTrue(e.getMessage().contains(url().toString()), e.getMessage());
        Path part = Downloader.sibling(target, ".part");
        assertTrue(e.getMessage().contains(part + " is kept"), e.getMessage());
        assertEquals(cutAt, Files.size(part), "the bytes received before the cut are kept");
        assertFalse(Files.exists(target));

        fast().build().download(url(), target, null);

        assertArrayEquals(CONTENT, Files.readAllBytes(target));
        assertEquals("bytes=" + cutAt + "-", server.requests().get(1).header("Range"));
        assertEquals(SIZE, server.bodyBytesSent());
    }

    @Test
    void restartsFromZeroWhenTheServerIgnoresRange() throws IOException {
        // a stale part whose bytes are wrong: the 200 answer must replace it, not be appended to it
        Path part = Downloader.sibling(target, ".part");
        Files.write(part, randomBytes(500_000, 7));
        server.ignoreRange = true;

        fast().build().download(url(), target, null);

        assertArrayEquals(CONTENT, Files.readAllBytes(target));
        LocalHubServer.Request r = server.requests().get(0);
        assertEquals("bytes=500000-", r.header("Range"));
        assertEquals(200, r.status());
        assertEquals(1, server.requests().size());
    }

    @Test
    void partFileThatIsAlreadyCompleteIsVerifiedAndMovedWithoutBody() throws IOException {
        Files.write(Downloader.sibling(target, ".part"), CONTENT);

        fast().build().download(url(), target, null);

        assertArrayEquals(CONTENT, Files.readAllBytes(target));
        assertEquals(416, server.requests().get(0).status());
        assertEquals(0, server.bodyBytesSent());
    }

    @Test
    void wrongChecksumDeletesThePartAndNamesUrlAndBothHashes() {
        String wrong = Sha256.of(randomBytes(100, 1));
        server.etag = "\"" + wrong + "\"";

        DownloadException e = assertThrows(DownloadException.class, () -> fast().build().download(url(), target, null));

        String actual = Sha256.of(CONTENT);
        assertTrue(e.getMessage().contains(url().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("expected sha256 " + wrong), e.getMessage());
        assertTrue(e.getMessage().contains("got " + actual), e.getMessage());
        assertFalse(e.retryable());
        assertFalse(Files.exists(target));
        assertFalse(Files.exists(Downloader.sibling(target, ".part")), "a part with a wrong checksum is deleted");
        assertEquals(1, server.requests().size(), "a checksum mismatch is not retried");
    }

    @Test
    void callerSuppliedSha256IsCheckedEvenWhenTheEtagMatches() {
        String expected = Sha256.of(randomBytes(100, 2));

        DownloadException e = assertThrows(DownloadException.class,
                () -> fast().build().download(url(), target, expected.toUpperCase()));

        assertTrue(e.getMessage().contains("expected sha256 " + expected), e.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    void etagThatIsNotASha256IsIgnoredAndSizeIsStillChecked() throws IOException {
        server.etag = "\"0123456789abcdef0123456789abcdef01234567\""; // a git blob sha1, as for non-LFS files

        fast().build().download(url(), target, null);

        assertArrayEquals(CONTENT, Files.readAllBytes(target));
    }

    @Test
    void notFoundIsReportedWithTheUrlAndNotRetried() {
        URI missing = server.baseUrl().resolve("/acme/tiny-model/resolve/main/nope.bin");

        DownloadException e = assertThrows(DownloadException.class, () -> fast().build().download(missing, target, null));

        assertEquals(404, e.status());
        assertTrue(e.getMessage().contains("404"), e.getMessage());
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        assertEquals(1, server.requests().size());
    }

    @Test
    void unauthorizedTellsToSetHfTokenAndNeverShowsTheToken() throws IOException {
        String sent = "hf_wrongSecretValue123";
        server.requiredToken = "hf_rightSecretValue456";

        try (CapturedLog log = new CapturedLog("io.inferstream.runtime.hub")) {
            DownloadException noToken = assertThrows(DownloadException.class,
                    () -> fast().build().download(url(), target, null));
            assertEquals(401, noToken.status());
            assertTrue(noToken.getMessage().contains("set HF_TOKEN"), noToken.getMessage());

            DownloadException wrongToken = assertThrows(DownloadException.class,
                    () -> fast().token(sent).build().download(url(), target, null));
            assertEquals(401, wrongToken.status());
            assertTrue(wrongToken.getMessage().contains("HF_TOKEN"), wrongToken.getMessage());
            assertFalse(wrongToken.getMessage().contains(sent), wrongToken.getMessage());
            assertFalse(wrongToken.toString().contains(sent));
            assertEquals("Bearer " + sent, server.requests().get(1).header("Authorization"));

            fast().token(server.requiredToken).build().download(url(), target, null);
            assertArrayEquals(CONTENT, Files.readAllBytes(target));

            assertFalse(log.text().contains(sent), log.text());
            assertFalse(log.text().contains(server.requiredToken), log.text());
            assertTrue(log.text().contains("Downloaded"), "the capture sees the downloader's log: " + log.text());
        }
    }

    @Test
    void serverErrorsAreRetriedWithBackoff() throws IOException {
        server.status = 503;
        server.statusCount.set(2);

        fast().maxAttempts(3).build().download(url(), target, null);

        assertArrayEquals(CONTENT, Files.readAllBytes(target));
        assertEquals(List.of(503, 503, 200), server.requests().stream().map(LocalHubServer.Request::status).toList());
    }

    @Test
    void persistentServerErrorFailsAfterTheLastAttempt() {
        server.status = 500;
        server.statusCount.set(100);

        DownloadException e = assertThrows(DownloadException.class,
                () -> fast().maxAttempts(3).build().download(url(), target, null));

        assertEquals(500, e.status());
        assertTrue(e.getMessage().contains("after 3 attempts"), e.getMessage());
        assertTrue(e.getMessage().contains("Injected status 500"), "the server's X-Error-Message is shown: " + e.getMessage());
        assertEquals(3, server.requests().size());
    }

    @Test
    void redirectToAnotherOriginDoesNotForwardAuthorization() throws IOException {
        try (LocalHubServer cdn = new LocalHubServer()) {
            cdn.put(FILE_PATH, CONTENT);
            cdn.etag = "\"d41d8cd98f00b204e9800998ecf8427e\""; // a CDN md5-style ETag: the X-Linked-Etag counts
            server.redirectBase = cdn.baseUrl();
            server.requiredToken = "hf_redirectSecret789";

            fast().token(server.requiredToken).build().download(url(), target, null);

            assertArrayEquals(CONTENT, Files.readAllBytes(target));
            assertEquals("Bearer hf_redirectSecret789", server.requests().get(0).header("Authorization"));
            assertEquals(302, server.requests().get(0).status());
            LocalHubServer.Request atCdn = cdn.requests().get(0);
            assertEquals(FILE_PATH, atCdn.path());
            assertNull(atCdn.header("Authorization"), "the token must not leave its origin");
        }
    }

    @Test
    void relativeRedirectOfARenamedRepositoryKeepsAuthorization() throws IOException {
        server.renamedFrom = "/old-name/";
        server.renamedTo = "/acme/";
        server.requiredToken = "hf_sameOriginSecret";
        URI old = server.baseUrl().resolve("/old-name/tiny-model/resolve/main/weights.bin");

        fast().token(server.requiredToken).build().download(old, target, null);

        assertArrayEquals(CONTENT, Files.readAllBytes(target));
        List<LocalHubServer.Request> rs = server.requests();
        assertEquals(307, rs.get(0).status());
        assertEquals(FILE_PATH, rs.get(1).path());
        assertEquals("Bearer hf_sameOriginSecret", rs.get(1).header("Authorization"), "same origin: the token goes along");
    }

    @Test
    void sha256FromTheHubRedirectCatchesACorruptCdnFile() throws IOException {
        try (LocalHubServer cdn = new LocalHubServer()) {
            byte[] corrupt = CONTENT.clone();
            corrupt[SIZE / 2] ^= 1;
            cdn.put(FILE_PATH, corrupt); // the CDN's own ETag is the corrupt file's hash, so only X-Linked-Etag can tell
            server.redirectBase = cdn.baseUrl();

            DownloadException e = assertThrows(DownloadException.class, () -> fast().build().download(url(), target, null));

            assertTrue(e.getMessage().contains("expected sha256 " + Sha256.of(CONTENT)), e.getMessage());
            assertTrue(e.getMessage().contains("got " + Sha256.of(corrupt)), e.getMessage());
            assertFalse(e.getMessage().contains("signature"), "signed CDN query strings stay out of messages");
        }
    }

    @Test
    void stalledTransferTimesOutAndResumes() throws IOException {
        server.cutAfterBytes = 400_000;
        server.stallCount.set(1);

        fast().readTimeout(Duration.ofMillis(800)).maxAttempts(4).build().download(url(), target, null);

        assertArrayEquals(CONTENT, Files.readAllBytes(target));
        assertEquals(400_000, server.requests().get(0).bodyBytesSent());
        assertEquals("bytes=400000-", server.requests().get(1).header("Range"), "the stalled transfer is resumed");
    }

    @Test
    void concurrentDownloadsOfOneFileFetchItOnce() throws Exception {
        Downloader d = fast().build();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<Path>> results = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                results.add(pool.submit(() -> d.download(url(), target, null)));
            }
            for (Future<Path> f : results) {
                assertEquals(target, f.get());
            }
        } finally {
            pool.shutdownNow();
        }
        assertArrayEquals(CONTENT, Files.readAllBytes(target));
        assertEquals(1, server.requests().size());
    }

    @Test
    void etagParsingAcceptsOnlySha256() {
        String sha = Sha256.of(CONTENT);
        assertEquals(sha, Sha256.fromEtag("\"" + sha.toUpperCase() + "\""));
        assertEquals(sha, Sha256.fromEtag("W/\"" + sha + "\""));
        assertNull(Sha256.fromEtag("\"" + sha.substring(1) + "\""));
        assertNull(Sha256.fromEtag("\"d41d8cd98f00b204e9800998ecf8427e\""));
        assertNotNull(Sha256.fromEtag(sha));
    }

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}

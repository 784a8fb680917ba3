package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.jobs.testing.LosesDeviceOnce;
import io.inferstream.runtime.engine.Completion;
import io.inferstream.runtime.engine.FinishReason;
import io.inferstream.runtime.engine.Request;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.hub.HubOverrides;
import io.inferstream.runtime.hub.LocalHubServer;
import io.inferstream.runtime.testing.SharedModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One engine per spec and JVM, shared and reference counted; a failed one is replaced, and closed by its own leases. */
class SharedEnginesTest {
    @TempDir
    Path tmp;

    private static Completion generate(SharedEngines.Lease lease) {
        return lease.model().engine().submit(Request.builder(new int[] {1, 403, 407})
                .params(SamplingParams.greedy(4)).build()).join();
    }

    @Test
    void aFailedEngineIsReplacedAndClosedWhenItsLastLeaseIsReleased() {
        EngineSpec spec = EngineSpec.of(SharedModels.require("stories260K/stories260K.gguf").toString(), "stories260K-shared");
        LosesDeviceOnce.reset();
        List<LosesDeviceOnce> models = new CopyOnWriteArrayList<>();
        SharedEngines.Loader previous = SharedEngines.useLoader((s, placement) -> LoadedModel.load(s, placement, m -> {
            LosesDeviceOnce model = new LosesDeviceOnce(m, 1);
            models.add(model);
            return model;
        }));
        try (SharedEngines.Lease a = SharedEngines.acquire(spec); SharedEngines.Lease b = SharedEngines.acquire(spec)) {
            assertSame(a.model(), b.model(), "one engine for both");
            assertEquals(2, SharedEngines.references(spec));
            assertEquals(FinishReason.ERROR, generate(a).finishReason(), "its first step loses the device");
            assertTrue(a.model().engine().failure().isPresent());

            try (SharedEngines.Lease c = SharedEngines.acquire(spec)) {
                assertNotSame(a.model(), c.model(), "a failed engine is not handed out again");
                assertEquals(1, SharedEngines.references(spec), "the spec's engine is the new one");
                assertEquals(FinishReason.LENGTH, generate(c).finishReason());
                a.close();
                b.close(); // the failed engine's last lease: it is closed, the new one is untouched
                assertEquals(2, models.size());
                assertTrue(models.get(0).closed(), "the failed engine's model is closed with its last lease");
                assertTrue(!models.get(1).closed(), "the new one is not");
                assertEquals(1, SharedEngines.references(spec));
                assertEquals(FinishReason.LENGTH, generate(c).finishReason());
            }
            assertEquals(0, SharedEngines.references(spec));
            assertTrue(models.get(1).closed(), "and the new one with its own");
        } finally {
            SharedEngines.useLoader(previous);
        }
    }

    /**
     * An hf:// model that a TaskManager downloads does not hold up the other engines of the JVM: while the Hub holds
     * the file back, another spec's engine is acquired, used and released (a job's cancel must not wait for another
     * job's download), and the download's own acquire then completes with the file.
     */
    @Test
    void aDownloadingModelDoesNotBlockOtherEnginesLeases() throws Exception {
        Path stories = SharedModels.require("stories260K/stories260K.gguf");
        try (LocalHubServer hub = new LocalHubServer()) {
            hub.put("/test-owner/stories/resolve/main/stories260K.gguf", Files.readAllBytes(stories));
            CountDownLatch release = new CountDownLatch(1);
            hub.holdFilesUntil(release);
            String spec = "hf://test-owner/stories/stories260K.gguf";
            EngineSpec downloading = EngineSpec.of(spec, spec)
                    .withHub(new HubOverrides(tmp.resolve("cache").toString(), hub.baseUrl().toString(), false));
            CompletableFuture<SharedEngines.Lease> pending = CompletableFuture.supplyAsync(() -> SharedEngines.acquire(downloading));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (hub.requests().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(1, hub.requests().size(), "the download has started and is held");

            CompletableFuture<FinishReason> other = CompletableFuture.supplyAsync(() -> {
                try (SharedEngines.Lease lease = SharedEngines.acquire(EngineSpec.of(stories.toString(), "stories260K-local"))) {
                    return generate(lease).finishReason();
                }
            });
            assertEquals(FinishReason.LENGTH, other.get(60, TimeUnit.SECONDS), "another engine while the download is held");
            assertFalse(pending.isDone());

            release.countDown();
            try (SharedEngines.Lease lease = pending.get(60, TimeUnit.SECONDS)) {
                assertEquals(FinishReason.LENGTH, generate(lease).finishReason());
            }
            assertEquals(0, SharedEngines.references(downloading));
        }
    }
}

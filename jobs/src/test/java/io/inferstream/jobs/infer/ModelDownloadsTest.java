package io.inferstream.jobs.infer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.inferstream.runtime.hub.ProgressListener;
import org.junit.jupiter.api.Test;

/** What an operator's download gauge shows while its TaskManager downloads the model, and after. */
class ModelDownloadsTest {
    private static final long MIB = 1024 * 1024;

    @Test
    void aDownloadShowsItsProgressUntilItFinishes() {
        String model = "hf://owner/repo/a.gguf";
        ProgressListener listener = ModelDownloads.listener(model);
        assertEquals("", ModelDownloads.status(model));

        listener.start(model, 0, 1200 * MIB);
        assertEquals("0.0 of 1200.0 MiB (0%)", ModelDownloads.status(model));
        listener.update(300 * MIB, 1200 * MIB, 40.5 * MIB);
        assertEquals("300.0 of 1200.0 MiB (25%), 40.5 MiB/s", ModelDownloads.status(model));
        assertEquals("", ModelDownloads.status("hf://owner/repo/other.gguf"), "another model's gauge");

        listener.finish(300 * MIB, false); // it failed; the restarted task resumes the partial file
        assertEquals("", ModelDownloads.status(model));
        listener.start(model, 300 * MIB, 1200 * MIB);
        assertEquals("300.0 of 1200.0 MiB (25%)", ModelDownloads.status(model));
        listener.update(1200 * MIB, 1200 * MIB, 50 * MIB);
        listener.finish(1200 * MIB, true);
        assertEquals("", ModelDownloads.status(model));
    }

    @Test
    void aSizeTheServerDidNotSayIsLeftOut() {
        String model = "hf://owner/repo/unsized.gguf";
        ProgressListener listener = ModelDownloads.listener(model);
        listener.update(5 * MIB + MIB / 2, -1, 0);
        assertEquals("5.5 MiB", ModelDownloads.status(model));
        listener.finish(5 * MIB, true);
    }
}

package io.inferstream.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.runtime.bench.ModelShape;
import io.inferstream.runtime.bench.RandomModelWriter;
import io.inferstream.runtime.gguf.GgmlType;
import io.inferstream.runtime.hub.DefaultModels;
import io.inferstream.runtime.hub.HubOptions;
import io.inferstream.runtime.testing.SharedModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The replay's model choice when the default model cannot be had (offline, empty cache). */
class ReplayModelTest {
    private static HubOptions offline(Path cache) {
        return new HubOptions(cache, URI.create(HubOptions.DEFAULT_ENDPOINT), null, true);
    }

    @Test
    void offlineWithoutTheDefaultModelFallsBackToStories260KWithAWarning(@TempDir Path cache) throws IOException {
        Path models = SharedModels.root();
        SharedModels.require(ReplayModel.STORIES);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ReplayModel m = ReplayModel.choose(null, offline(cache), Map.of("INFERSTREAM_MODELS", models.toString()), null,
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(models.resolve(ReplayModel.STORIES), m.path());
        String warning = err.toString(StandardCharsets.UTF_8);
        assertTrue(warning.startsWith("WARNING: default model " + DefaultModels.REPLAY), warning);
        assertTrue(warning.contains("toy stories") && warning.contains("deploy/inferstream models pull"), warning);
        assertEquals(1, warning.lines().count(), "one line");
    }

    @Test
    void aCachedDefaultModelIsUsedWithoutAWarning(@TempDir Path cache) throws IOException {
        Path cached = cache.resolve("hf/Qwen/Qwen2.5-0.5B-Instruct-GGUF/main/qwen2.5-0.5b-instruct-q8_0.gguf");
        Files.createDirectories(cached.getParent());
        RandomModelWriter.write(ModelShape.TINY, GgmlType.Q8_0, 1, cached);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ReplayModel m = ReplayModel.choose(null, offline(cache), Map.of(), null, new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(cached, m.path());
        assertEquals(DefaultModels.REPLAY, m.name());
        assertEquals("", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aCachedDefaultModelThatCannotBeReadFailsInsteadOfFallingBack(@TempDir Path cache) throws IOException {
        Path cached = cache.resolve("hf/Qwen/Qwen2.5-0.5B-Instruct-GGUF/main/qwen2.5-0.5b-instruct-q8_0.gguf");
        Files.createDirectories(cached.getParent());
        Files.write(cached, new byte[] {'G', 'G', 'U', 'F'});
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        // stories260K is there to fall back to, and is not taken: a broken download is the user's to fix
        Map<String, String> env = Map.of("INFERSTREAM_MODELS", SharedModels.root().toString());
        IOException e = assertThrows(IOException.class, () -> ReplayModel.choose(null, offline(cache), env, null,
                new PrintStream(err, true, StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().startsWith(cached + ": "), e.getMessage());
        assertTrue(e.getMessage().endsWith("Fetch it again with `deploy/inferstream models pull` after deleting it."),
                e.getMessage());
        assertEquals("", err.toString(StandardCharsets.UTF_8), "no fallback warning");
    }

    @Test
    void aGivenModelThatIsNotAModelFailsNamingTheFile(@TempDir Path dir) throws IOException {
        Path notes = Files.writeString(dir.resolve("notes.gguf"), "not a model");
        IOException e = assertThrows(IOException.class, () -> ReplayModel.choose(notes.toString(), offline(dir),
                Map.of(), null, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().startsWith(notes + ": not a GGUF file"), e.getMessage());
    }

    @Test
    void withNeitherModelTheReplayFailsSayingHowToGetOne(@TempDir Path cache) {
        // a repository folder inside the temporary one: its ../shared is ours (empty), not whatever the temp root holds
        IOException e = assertThrows(IOException.class, () -> ReplayModel.choose(null, offline(cache), Map.of(),
                cache.resolve("repo"), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("deploy/inferstream models pull") && e.getMessage().contains("--model"), e.getMessage());
    }
}

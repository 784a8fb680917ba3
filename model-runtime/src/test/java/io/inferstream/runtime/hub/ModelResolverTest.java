package io.inferstream.runtime.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.generate.GenerationResult;
import io.inferstream.runtime.generate.Generator;
import io.inferstream.runtime.model.Llama2cHfExport;
import io.inferstream.runtime.safetensors.SafetensorsShards;
import io.inferstream.runtime.sampling.SamplingParams;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.Tokenizer;

/** Resolution of local paths and hf:// specs: URL and cache layout, cache hits, offline mode, Hub errors. */
class ModelResolverTest {

    /** Published sha256 of stories260K.gguf (shared/models/README.md, pinned by several public projects). */
    private static final String STORIES_SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
    private static final String STORIES_SPEC = "hf://ggml-org/models/tinyllamas/stories260K.gguf";
    private static final String STORIES_URL_PATH = "/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf";

    @TempDir
    Path cacheDir;

    private LocalHubServer server;
    private ModelResolver resolver;

    @BeforeEach
    void start() throws IOException {
        server = new LocalHubServer();
        resolver = resolver(false);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private ModelResolver resolver(boolean offline) {
        HubOptions options = HubOptions.fromEnvironment(Map.of())
                .withCacheDir(cacheDir).withEndpoint(server.baseUrl()).withOffline(offline);
        Downloader downloader = Downloader.builder().backoff(Duration.ofMillis(5), Duration.ofMillis(20)).build();
        return new ModelResolver(options, downloader);
    }

    @Test
    void existingLocalPathResolvesToItself() throws IOException {
        Path model = SharedModels.require("stories260K/stories260K.gguf");

        assertEquals(model.toAbsolutePath().normalize(), resolver.resolve(model.toString()));
        assertTrue(server.requests().isEmpty());
    }

    @Test
    void missingLocalPathFailsNamingIt() {
        Path missing = cacheDir.resolve("no-such-model.gguf");

        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> resolver.resolve(missing.toString()));

        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("hf://"), "the message says what a model spec may be: " + e.getMessage());
    }

    @Test
    void hubSpecMapsToResolveUrlAndCacheLayout() {
        HfUri def = HfUri.parse(DefaultModels.REPLAY);
        ModelResolver hub = new ModelResolver(HubOptions.fromEnvironment(Map.of()).withCacheDir(cacheDir));

        assertEquals("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q8_0.gguf",
                hub.urlOf(def).toString());
        assertEquals(cacheDir.resolve("hf/Qwen/Qwen2.5-0.5B-Instruct-GGUF/main/qwen2.5-0.5b-instruct-q8_0.gguf"),
                hub.cache().pathOf(def));

        HfUri pinned = HfUri.parse("hf://acme/models/sub dir/model.gguf@refs/pr/1");
        assertEquals("https://huggingface.co/acme/models/resolve/refs%2Fpr%2F1/sub%20dir/model.gguf",
                hub.urlOf(pinned).toString());
        assertEquals(cacheDir.resolve("hf/acme/models/refs%2Fpr%2F1/sub dir/model.gguf"), hub.cache().pathOf(pinned));
    }

    @Test
    void downloadsRealModelIntoTheCacheWithThePublishedSha256() throws IOException {
        byte[] gguf = Files.readAllBytes(SharedModels.require("stories260K/stories260K.gguf"));
        server.put(STORIES_URL_PATH, gguf);

        Path path = resolver.resolve(STORIES_SPEC);

        assertEquals(cacheDir.resolve("hf/ggml-org/models/main/tinyllamas/stories260K.gguf"), path);
        assertEquals(STORIES_SHA256, Sha256.of(path));
        assertEquals(1, server.requests().size());
    }

    @Test
    void cachedFileIsUsedWithoutAnyRequest() throws IOException {
        server.put(STORIES_URL_PATH, Files.readAllBytes(SharedModels.require("stories260K/stories260K.gguf")));
        Path first = resolver.resolve(STORIES_SPEC);
        int requests = server.requests().size();

        Path second = resolver(false).resolve(STORIES_SPEC);

        assertEquals(first, second);
        assertEquals(requests, server.requests().size(), "a cache hit touches no network");
    }

    @Test
    void offlineModeResolvesACachedFileWithoutNetwork() throws IOException {
        Path cached = resolver.cache().pathOf(HfUri.parse(STORIES_SPEC));
        Files.createDirectories(cached.getParent());
        Files.copy(SharedModels.require("stories260K/stories260K.gguf"), cached);

        assertEquals(cached, resolver(true).resolve(STORIES_SPEC));
        assertTrue(server.requests().isEmpty());
    }

    @Test
    void offlineModeNamesTheSpecAndTheCachePathOfAMissingFile() {
        server.put(STORIES_URL_PATH, new byte[] {1, 2, 3});
        Path expected = cacheDir.resolve("hf/ggml-org/models/main/tinyllamas/stories260K.gguf");

        OfflineModeException e = assertThrows(OfflineModeException.class, () -> resolver(true).resolve(STORIES_SPEC));

        assertEquals(expected, e.neededFile());
        assertTrue(e.getMessage().contains(STORIES_SPEC), e.getMessage());
        assertTrue(e.getMessage().contains(expected.toString()), e.getMessage());
        assertTrue(server.requests().isEmpty(), "offline mode never opens a connection");
        assertFalse(Files.exists(expected));
    }

    @Test
    void missingHubFileNamesRepositoryPathAndRevision() {
        DownloadException e = assertThrows(DownloadException.class,
                () -> resolver.resolve("hf://acme/tiny-model/missing/file.gguf@v2"));

        assertEquals(404, e.status());
        assertTrue(e.getMessage().contains("acme/tiny-model"), e.getMessage());
        assertTrue(e.getMessage().contains("'missing/file.gguf'"), e.getMessage());
        assertTrue(e.getMessage().contains("'v2'"), e.getMessage());
        assertEquals(List.of("/acme/tiny-model/resolve/v2/missing/file.gguf"),
                server.requests().stream().map(LocalHubServer.Request::path).toList());
    }

    @Test
    void optionsComeFromTheEnvironmentAndHideTheToken() {
        HubOptions o = HubOptions.fromEnvironment(Map.of(
                "INFERSTREAM_CACHE", "/data/cache",
                "HF_ENDPOINT", "https://mirror.example/",
                "INFERSTREAM_HF_ENDPOINT", "http://127.0.0.1:9/hub",
                "HUGGING_FACE_HUB_TOKEN", "hf_legacyName",
                "HF_TOKEN", "hf_envSecret",
                "HF_HUB_OFFLINE", "1"));

        assertEquals(Path.of("/data/cache"), o.cacheDir());
        assertEquals("http://127.0.0.1:9/hub", o.endpoint().toString());
        assertEquals("hf_envSecret", o.token());
        assertTrue(o.offline());
        assertFalse(o.toString().contains("hf_envSecret"), o.toString());

        HubOptions defaults = HubOptions.fromEnvironment(Map.of("HUGGING_FACE_HUB_TOKEN", "hf_legacyName",
                "INFERSTREAM_OFFLINE", "0"));
        assertEquals(Path.of(System.getProperty("user.home"), ".cache", "inferstream"), defaults.cacheDir());
        assertEquals(HubOptions.DEFAULT_ENDPOINT, defaults.endpoint().toString());
        assertEquals("hf_legacyName", defaults.token());
        assertFalse(defaults.offline());
    }

    /** stories260K in transformers' layout (llama2.c's export.py), served as hf://karpathy/stories260K-hf. */
    private static final String REPO = "/karpathy/stories260K-hf/resolve/main/";

    private void serveExportedStories(Path scratch) throws IOException {
        Path folder = scratch.resolve("export");
        Llama2cHfExport.export(SharedModels.require("stories260K/stories260K.bin"),
                SharedModels.require("stories260K/tok512.model"), folder);
        for (String name : List.of("config.json", "model.safetensors", "tokenizer.model")) {
            server.put(REPO + name, Files.readAllBytes(folder.resolve(name)));
        }
    }

    @Test
    void aRepositorySpecFetchesConfigTokenizerAndWeightsIntoOneFolderThatLoads(@TempDir Path scratch) throws IOException {
        serveExportedStories(scratch);

        Path folder = resolver.resolve("hf://karpathy/stories260K-hf");

        assertEquals(resolver.cache().folderOf(HfRepo.parse("hf://karpathy/stories260K-hf")), folder);
        for (String name : List.of("config.json", "model.safetensors", "tokenizer.model")) {
            assertTrue(Files.isRegularFile(folder.resolve(name)), name);
        }
        // what the repository does not have was asked for once and skipped: tokenizer.json, the shard index, ...
        assertTrue(server.requests().stream().anyMatch(r -> r.path().endsWith("/tokenizer.json") && r.status() == 404));
        assertTrue(server.requests().stream().anyMatch(r -> r.path().endsWith("/" + SafetensorsShards.INDEX) && r.status() == 404));
        try (Checkpoint c = Checkpoint.open(folder)) {
            Tokenizer t = c.tokenizer();
            GenerationResult r = new Generator(c.loadModel(), t).generate(new int[] {t.bos()}, SamplingParams.greedy(20), p -> { });
            assertTrue(r.text().startsWith(" Once upon a time, there was a little girl"), r.text());
        }
        // cached: the next resolution, even offline, sends nothing for the files it has
        int before = server.requests().size();
        assertEquals(folder, resolver(true).resolve("hf://karpathy/stories260K-hf"));
        assertEquals(before, server.requests().size());
    }

    @Test
    void everyShardTheIndexListsIsFetchedAndAMissingOneFailsOfflineNamingItsPath() throws IOException {
        server.put("/o/sharded/resolve/v1/config.json", "{}".getBytes());
        server.put("/o/sharded/resolve/v1/model.safetensors.index.json",
                ("{\"metadata\": {}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\","
                        + " \"b\": \"model-00002-of-00002.safetensors\", \"c\": \"model-00001-of-00002.safetensors\"}}").getBytes());
        server.put("/o/sharded/resolve/v1/model-00001-of-00002.safetensors", new byte[] {1});
        server.put("/o/sharded/resolve/v1/model-00002-of-00002.safetensors", new byte[] {2});

        Path folder = resolver.resolve("hf://o/sharded@v1");

        assertEquals(1, Files.readAllBytes(folder.resolve("model-00001-of-00002.safetensors"))[0]);
        assertEquals(2, Files.readAllBytes(folder.resolve("model-00002-of-00002.safetensors"))[0]);
        assertEquals(1, server.requests().stream().filter(r -> r.path().endsWith("model-00001-of-00002.safetensors")).count(),
                "a shard named twice is fetched once");
        assertFalse(server.requests().stream().anyMatch(r -> r.path().endsWith("/model.safetensors")));

        Files.delete(folder.resolve("model-00002-of-00002.safetensors"));
        OfflineModeException e = assertThrows(OfflineModeException.class, () -> resolver(true).resolve("hf://o/sharded@v1"));
        assertTrue(e.getMessage().contains(folder.resolve("model-00002-of-00002.safetensors").toString()), e.getMessage());
    }

    @Test
    void aRepositoryWithoutConfigJsonSaysSo() {
        DownloadException e = assertThrows(DownloadException.class, () -> resolver.resolve("hf://o/empty"));
        assertTrue(e.getMessage().contains("has no file 'config.json'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> resolver.resolve("hf://o/empty", "ab".repeat(32)));
    }
}

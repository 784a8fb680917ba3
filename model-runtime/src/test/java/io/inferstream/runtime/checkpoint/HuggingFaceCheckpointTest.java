package io.inferstream.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.LlamaModel;
import io.inferstream.runtime.model.TokenBatch;
import io.inferstream.runtime.safetensors.SafetensorsDtype;
import io.inferstream.runtime.safetensors.SafetensorsFormatException;
import io.inferstream.runtime.safetensors.SafetensorsWriter;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.runtime.tokenizer.ChatMessage;
import io.inferstream.runtime.tokenizer.Tokenizer;
import io.inferstream.runtime.tokenizer.Tokenizers;

/**
 * Opening a Hugging Face folder: where its parts are found, and a clear refusal, naming the file and the key or
 * tensor, for what the loader cannot run. (Logits against the float64 reference: {@code LlamaModelReferenceTest};
 * stories260K's greedy story: {@code StoriesGreedyTest}.)
 */
class HuggingFaceCheckpointTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DIM = 8;
    private static final int HIDDEN = 16;
    private static final int VOCAB = 10;

    @TempDir
    Path dir;

    /** A one-layer llama of width 8 (two heads of 4, one KV head): tensors by transformers' names, F32. */
    private static Map<String, long[]> tinyShapes(boolean lmHead) {
        Map<String, long[]> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", new long[] {VOCAB, DIM});
        String p = "model.layers.0.";
        t.put(p + "input_layernorm.weight", new long[] {DIM});
        t.put(p + "self_attn.q_proj.weight", new long[] {DIM, DIM});
        t.put(p + "self_attn.k_proj.weight", new long[] {4, DIM});
        t.put(p + "self_attn.v_proj.weight", new long[] {4, DIM});
        t.put(p + "self_attn.o_proj.weight", new long[] {DIM, DIM});
        t.put(p + "post_attention_layernorm.weight", new long[] {DIM});
        t.put(p + "mlp.gate_proj.weight", new long[] {HIDDEN, DIM});
        t.put(p + "mlp.up_proj.weight", new long[] {HIDDEN, DIM});
        t.put(p + "mlp.down_proj.weight", new long[] {DIM, HIDDEN});
        t.put("model.norm.weight", new long[] {DIM});
        if (lmHead) {
            t.put("lm_head.weight", new long[] {VOCAB, DIM});
        }
        return t;
    }

    private static ObjectNode tinyConfig() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama");
        c.put("hidden_size", DIM);
        c.put("intermediate_size", HIDDEN);
        c.put("num_hidden_layers", 1);
        c.put("num_attention_heads", 2);
        c.put("num_key_value_heads", 1);
        c.put("vocab_size", VOCAB);
        c.put("max_position_embeddings", 64);
        c.put("rms_norm_eps", 1e-5);
        c.put("tie_word_embeddings", false);
        return c;
    }

    private Path writeTiny(Consumer<ObjectNode> config, Consumer<Map<String, long[]>> tensors) throws IOException {
        ObjectNode c = tinyConfig();
        config.accept(c);
        Map<String, long[]> shapes = tinyShapes(true);
        tensors.accept(shapes);
        SafetensorsWriter w = new SafetensorsWriter();
        SplittableRandom rnd = new SplittableRandom(3);
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long n = 1;
            for (long d : e.getValue()) {
                n *= d;
            }
            float[] v = new float[(int) n];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (rnd.nextDouble() - 0.5);
            }
            w.addF32(e.getKey(), v, e.getValue());
        }
        Files.createDirectories(dir);
        w.write(dir.resolve("model.safetensors"));
        JSON.writeValue(dir.resolve("config.json").toFile(), c);
        return dir;
    }

    private Path writeTiny() throws IOException {
        return writeTiny(c -> { }, t -> { });
    }

    private static String openFails(Path path) {
        return assertThrows(RuntimeException.class, () -> Checkpoint.open(path).close()).getMessage();
    }

    private static String loadFails(Path path) {
        return assertThrows(RuntimeException.class, () -> {
            try (Checkpoint c = Checkpoint.open(path)) {
                c.loadModel();
            }
        }).getMessage();
    }

    @Test
    void theFolderItsConfigAndItsWeightsFileAllOpenTheSameCheckpoint() throws IOException {
        writeTiny();
        for (Path given : List.of(dir, dir.resolve("config.json"), dir.resolve("model.safetensors"))) {
            try (Checkpoint c = Checkpoint.open(given)) {
                assertEquals(dir.toAbsolutePath(), c.path().toAbsolutePath(), given.toString());
                assertEquals("safetensors", c.format());
                assertEquals(List.of(DIM, HIDDEN, 1, 2, 1, 4, VOCAB, 64),
                        List.of(c.config().dim(), c.config().hiddenDim(), c.config().nLayers(), c.config().nHeads(),
                                c.config().nKvHeads(), c.config().headDim(), c.config().vocabSize(), c.config().contextLength()));
                assertEquals(1e-5f, c.config().rmsEps());
                assertEquals(10000f, c.config().ropeTheta(), "transformers' default rope_theta");
            }
        }
    }

    @Test
    void aFolderWithoutConfigJsonIsNeitherModelKind() throws IOException {
        Files.createDirectories(dir.resolve("empty"));
        String m = openFails(dir.resolve("empty"));
        assertTrue(m.contains("empty") && m.contains("config.json"), m);
        Files.writeString(dir.resolve("lonely.safetensors"), "");
        m = openFails(dir.resolve("lonely.safetensors"));
        assertTrue(m.contains("has no config.json"), m);
    }

    @Test
    void aMixtureWithDenseLayersOrWithoutItsExpertCountIsRefusedByKey() throws IOException {
        writeTiny(c -> c.put("model_type", "qwen3_moe").put("num_experts", 4).put("num_experts_per_tok", 2)
                .put("moe_intermediate_size", 32).put("decoder_sparse_step", 2), t -> { });
        String m = openFails(dir);
        assertTrue(m.contains("config.json") && m.contains("decoder_sparse_step 2") && m.contains("dense layers"), m);
        writeTiny(c -> c.put("model_type", "mixtral").put("num_experts_per_tok", 2), t -> { });
        m = openFails(dir);
        assertTrue(m.contains("config.json") && m.contains("num_local_experts is missing"), m);
        writeTiny(c -> c.put("model_type", "mixtral").put("num_local_experts", 2).put("num_experts_per_tok", 3), t -> { });
        m = openFails(dir);
        assertTrue(m.contains("config.json") && m.contains("2 experts, 3 used"), m);
    }

    @Test
    void aModelTypeOutsideTheLlamaFamilyIsNamed() throws IOException {
        writeTiny(c -> c.put("model_type", "deepseek_v3"), t -> { });
        String m = openFails(dir);
        assertTrue(m.contains("config.json") && m.contains("model_type is 'deepseek_v3'") && m.contains("qwen2")
                && m.contains("gemma3_text"), m);
    }

    @Test
    void settingsTheEngineDoesNotComputeAreRefusedByKey() throws IOException {
        writeTiny(c -> c.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0), t -> { });
        String m = openFails(dir);
        assertTrue(m.contains("config.json") && m.contains("rope_scaling type 'yarn'"), m);

        writeTiny(c -> c.putObject("quantization_config").put("quant_method", "gptq"), t -> { });
        m = openFails(dir);
        assertTrue(m.contains("quantization_config (gptq)"), m);

        writeTiny(c -> c.put("hidden_act", "gelu"), t -> { });
        m = openFails(dir);
        assertTrue(m.contains("hidden_act is 'gelu'"), m);

        writeTiny(c -> c.put("num_key_value_heads", 3), t -> { });
        m = openFails(dir);
        assertTrue(m.contains("num_attention_heads 2 is not a multiple of num_key_value_heads 3"), m);

        writeTiny(c -> c.remove("hidden_size"), t -> { });
        m = openFails(dir);
        assertTrue(m.contains("hidden_size is missing; expected a positive integer"), m);

        // Gemma 3: a layer pattern other than sliding layers then one full one, a SiLU feed-forward, YaRN
        writeTiny(c -> c.put("model_type", "gemma3_text").putArray("layer_types").add("full_attention").add("sliding_attention"),
                t -> { });
        m = openFails(dir);
        assertTrue(m.contains("config.json: layer_types") && m.contains("not a repeat of sliding layers"), m);
        writeTiny(c -> c.put("model_type", "gemma3_text").put("hidden_activation", "silu"), t -> { });
        m = openFails(dir);
        assertTrue(m.contains("hidden_activation is 'silu'") && m.contains("gelu_pytorch_tanh"), m);
        writeTiny(c -> c.put("model_type", "gemma3_text").putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0),
                t -> { });
        m = openFails(dir);
        assertTrue(m.contains("rope_scaling") && m.contains("not supported for gemma3_text"), m);
    }

    @Test
    void mistralsSlidingWindowCapsTheContextItCanAttendInFull() throws IOException {
        writeTiny(c -> c.put("model_type", "mistral").put("max_position_embeddings", 64).put("sliding_window", 32), t -> { });
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(32, c.config().contextLength());
            assertEquals("llama", c.config().architecture());
        }
    }

    @Test
    void aQwen3FolderNeedsItsPerHeadQkNormWeightsAndDefaultsItsHeadsTo128() throws IOException {
        // Qwen3Config's head_dim is 128 when config.json leaves it out, whatever hidden_size / num_attention_heads is
        writeTiny(c -> c.put("model_type", "qwen3").remove("max_position_embeddings"), t -> { });
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals("qwen3", c.config().architecture());
            assertEquals(128, c.config().headDim());
            assertEquals(32768, c.config().contextLength(), "Qwen3Config's default max_position_embeddings");
            assertTrue(c.config().qkNorm() && c.config().ropeNeox());
        }
        writeTiny(c -> c.put("model_type", "qwen3").put("head_dim", 4), t -> t.put("model.layers.0.self_attn.q_norm.weight", new long[] {4}));
        String m = loadFails(dir);
        assertTrue(m.contains("tensor model.layers.0.self_attn.k_norm.weight is missing (expected shape [4])"), m);
        writeTiny(c -> c.put("model_type", "qwen3").put("head_dim", 4), t -> {
            t.put("model.layers.0.self_attn.q_norm.weight", new long[] {4});
            t.put("model.layers.0.self_attn.k_norm.weight", new long[] {4});
        });
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(VOCAB, c.loadModel().config().vocabSize());
        }
        // attention_bias puts a bias on o_proj too, which the engine does not add: refused by the tensor's name
        writeTiny(c -> c.put("model_type", "qwen3").put("head_dim", 4).put("attention_bias", true), t -> {
            t.put("model.layers.0.self_attn.q_norm.weight", new long[] {4});
            t.put("model.layers.0.self_attn.k_norm.weight", new long[] {4});
            t.put("model.layers.0.self_attn.q_proj.bias", new long[] {DIM});
            t.put("model.layers.0.self_attn.k_proj.bias", new long[] {4});
            t.put("model.layers.0.self_attn.v_proj.bias", new long[] {4});
            t.put("model.layers.0.self_attn.o_proj.bias", new long[] {DIM});
        });
        m = loadFails(dir);
        assertTrue(m.contains("o_proj.bias") && m.contains("not supported"), m);
    }

    @Test
    void aMissingTensorIsNamedWithTheShapeExpected() throws IOException {
        writeTiny(c -> { }, t -> t.remove("model.layers.0.mlp.up_proj.weight"));
        String m = loadFails(dir);
        assertTrue(m.contains("tensor model.layers.0.mlp.up_proj.weight is missing (expected shape [16, 8])"), m);
    }

    @Test
    void aMisshapenTensorNamesItsFileAndBothShapes() throws IOException {
        writeTiny(c -> { }, t -> t.put("model.layers.0.self_attn.k_proj.weight", new long[] {DIM, DIM}));
        String m = loadFails(dir);
        assertTrue(m.contains("model.safetensors") && m.contains("tensor model.layers.0.self_attn.k_proj.weight has shape"
                + " [8, 8], expected [4, 8]"), m);
    }

    @Test
    void integerWeightsAreRefusedNamingTheDtype() throws IOException {
        writeTiny();
        // the same folder with q_proj stored as I8 (as a quantizer that forgot its config would leave it)
        Map<String, long[]> shapes = tinyShapes(true);
        SafetensorsWriter w = new SafetensorsWriter();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long n = e.getValue().length == 1 ? e.getValue()[0] : e.getValue()[0] * e.getValue()[1];
            if (e.getKey().endsWith("q_proj.weight")) {
                w.add(e.getKey(), SafetensorsDtype.I8, e.getValue(), new byte[(int) n]);
            } else {
                w.addF32(e.getKey(), new float[(int) n], e.getValue());
            }
        }
        w.write(dir.resolve("model.safetensors"));
        String m = loadFails(dir);
        assertTrue(m.contains("tensor model.layers.0.self_attn.q_proj.weight is I8; weights must be F32, F16 or BF16"), m);
    }

    @Test
    void anUntiedModelWithoutLmHeadIsRefusedAndATiedOneUsesTheEmbedding() throws IOException {
        writeTiny(c -> { }, t -> t.remove("lm_head.weight"));
        String m = loadFails(dir);
        assertTrue(m.contains("lm_head.weight is missing") && m.contains("tie_word_embeddings"), m);
        writeTiny(c -> c.put("tie_word_embeddings", true), t -> t.remove("lm_head.weight"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            LlamaModel model = c.loadModel();
            assertTrue(model.weights().output() == model.weights().tokenEmbedding());
        }
    }

    @Test
    void shardsAreOneModelAndAnIndexNamingAMissingShardFailsAtOpen() throws IOException {
        writeTiny();
        float[] single = logits(dir);
        // the same tensors split over two files, as save_pretrained(max_shard_size=...) writes them
        Map<String, String> weightMap = new LinkedHashMap<>();
        SafetensorsWriter[] shards = {new SafetensorsWriter(), new SafetensorsWriter()};
        try (var whole = io.inferstream.runtime.safetensors.SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            int i = 0;
            for (var t : whole.tensors()) {
                float[] v = new float[(int) t.elementCount()];
                whole.tensorData(t.name()).asFloatBuffer().get(v);
                String file = "model-0000" + (i % 2 + 1) + "-of-00002.safetensors";
                shards[i % 2].addF32(t.name(), v, t.shape());
                weightMap.put(t.name(), file);
                i++;
            }
        }
        Path sharded = dir.resolve("sharded");
        Files.createDirectories(sharded);
        shards[0].write(sharded.resolve("model-00001-of-00002.safetensors"));
        shards[1].write(sharded.resolve("model-00002-of-00002.safetensors"));
        Files.copy(dir.resolve("config.json"), sharded.resolve("config.json"));
        ObjectNode index = JSON.createObjectNode();
        index.set("weight_map", JSON.valueToTree(weightMap));
        JSON.writeValue(sharded.resolve("model.safetensors.index.json").toFile(), index);
        assertArrayEquals(single, logits(sharded));

        Files.delete(sharded.resolve("model-00002-of-00002.safetensors"));
        String m = openFails(sharded);
        assertTrue(m.contains("model.safetensors.index.json") && m.contains("model-00002-of-00002.safetensors"), m);
    }

    @Test
    void unindexedFilesMayNotBothHoldATensor() throws IOException {
        Path folder = dir.resolve("two");
        Files.createDirectories(folder);
        new SafetensorsWriter().addF32("x", new float[2], 2).write(folder.resolve("a.safetensors"));
        new SafetensorsWriter().addF32("x", new float[2], 2).write(folder.resolve("b.safetensors"));
        JSON.writeValue(folder.resolve("config.json").toFile(), tinyConfig());
        String m = openFails(folder);
        assertTrue(m.contains("tensor x is in both") && m.contains("a.safetensors") && m.contains("b.safetensors"), m);
    }

    @Test
    void aByteLevelVocabularyIsPaddedToTheModelsVocabSizeButNeverCut() throws IOException {
        Path tokenizer = SharedModels.require("hf-tokenizers/smollm2/tokenizer.json");
        writeTiny(c -> c.put("vocab_size", 49280), t -> {
            t.put("model.embed_tokens.weight", new long[] {49280, DIM});
            t.put("lm_head.weight", new long[] {49280, DIM});
        });
        Files.copy(tokenizer, dir.resolve("tokenizer.json"));
        Files.copy(tokenizer.resolveSibling("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            Tokenizer t = c.tokenizer();
            assertEquals(49280, t.vocabSize(), "every id the model has logits for has a piece");
            assertEquals("[PAD49200]", t.piece(49200));
            String text = "Hello, world! It's 1314 <|im_end|>";
            assertArrayEquals(Tokenizers.fromHuggingFace(tokenizer).encode(text, false, true), t.encode(text, false, true),
                    "padding changes no id of the vocabulary's own");
            assertFalse(c.chatTemplate(t).isPlain());
            assertTrue(c.chatTemplate(t).render(List.of(ChatMessage.user("Hi")), true).contains("<|im_start|>user\nHi<|im_end|>"));
        }
        writeTiny(c -> c.put("vocab_size", VOCAB), t -> { });
        try (Checkpoint c = Checkpoint.open(dir)) {
            String m = assertThrows(IllegalArgumentException.class, c::tokenizer).getMessage();
            assertTrue(m.contains("the tokenizer has 49152 tokens but config.json's vocab_size is 10"), m);
        }
    }

    @Test
    void aSentencePieceFolderIsReadThroughItsTokenizerModel() throws IOException {
        Path spm = SharedModels.require("stories260K/tok512.model");
        writeTiny(c -> c.put("vocab_size", 512), t -> {
            t.put("model.embed_tokens.weight", new long[] {512, DIM});
            t.put("lm_head.weight", new long[] {512, DIM});
        });
        // what transformers writes beside a Llama 2 tokenizer.model: BPE over SentencePiece pieces, no ByteLevel stage
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"<unk>\": 0},"
                + " \"merges\": [], \"byte_fallback\": true}, \"pre_tokenizer\": {\"type\": \"Metaspace\"},"
                + " \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}]}}");
        try (Checkpoint c = Checkpoint.open(dir)) {
            String m = assertThrows(IllegalArgumentException.class, c::tokenizer).getMessage();
            assertTrue(m.contains("not a byte-level BPE tokenizer") && m.contains("tokenizer.model it was made from"), m);
        }
        Files.copy(spm, dir.resolve("tokenizer.model"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            Tokenizer t = c.tokenizer();
            assertEquals(512, t.vocabSize());
            String text = "Once upon a time, Lily";
            assertArrayEquals(Tokenizers.fromHuggingFace(spm).encode(text, true, false), t.encode(text, true, false));
        }
    }

    @Test
    void aTemplateSavedAsChatTemplateJinjaIsUsed() throws IOException {
        Path tokenizer = SharedModels.require("hf-tokenizers/smollm2/tokenizer.json");
        writeTiny(c -> c.put("vocab_size", 49152), t -> {
            t.put("model.embed_tokens.weight", new long[] {49152, DIM});
            t.put("lm_head.weight", new long[] {49152, DIM});
        });
        Files.copy(tokenizer, dir.resolve("tokenizer.json"));
        ObjectNode config = (ObjectNode) JSON.readTree(tokenizer.resolveSibling("tokenizer_config.json").toFile());
        config.remove("chat_template");
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertTrue(c.chatTemplate(c.tokenizer()).isPlain());
        }
        // a model with vision (Gemma 3 4B, Llama 3.2 Vision) may keep it in its processor's chat_template.json
        ObjectNode processor = JSON.createObjectNode().put("chat_template",
                "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }}{% endfor %}");
        JSON.writeValue(dir.resolve("chat_template.json").toFile(), processor);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals("<user> Hi", c.chatTemplate(c.tokenizer()).render(List.of(ChatMessage.user("Hi")), false));
        }
        Files.writeString(dir.resolve("chat_template.jinja"),
                "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}{% endfor %}");
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals("[user] Hi<|im_end|>", c.chatTemplate(c.tokenizer()).render(List.of(ChatMessage.user("Hi")), false));
        }
    }

    @Test
    void aGgufFileStillOpensAsGguf() {
        try (Checkpoint c = Checkpoint.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            assertEquals("GGUF", c.format());
            assertEquals(512, c.tokenizer().vocabSize());
            assertEquals(64, c.config().dim());
            assertTrue(c.tensorData("blk.0.attn_q.weight").remaining() == 64 * 64 * 4);
        }
    }

    @Test
    void aTensorsStoredBytesAreWhatAGpuUploads() throws IOException {
        writeTiny();
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(HIDDEN * DIM * 4, c.tensorData("model.layers.0.mlp.up_proj.weight").remaining());
            assertThrows(SafetensorsFormatException.class, () -> c.tensorData("blk.0.attn_q.weight"));
        }
    }

    private static float[] logits(Path folder) {
        try (Checkpoint c = Checkpoint.open(folder)) {
            LlamaModel m = c.loadModel();
            KvStore kv = m.newKvStore(1, 16, KvStore.Precision.F32);
            int[] tokens = {1, 5, 9};
            int[] pos = {0, 1, 2};
            return m.forward(new TokenBatch(tokens, pos, new int[3], new int[][] {{0}}, pos), kv);
        }
    }
}

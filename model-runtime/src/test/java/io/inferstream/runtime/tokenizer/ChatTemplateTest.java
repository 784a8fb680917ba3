package io.inferstream.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.testing.SharedModels;

/** Real chat templates (Qwen2.5, SmolLM2, Phi-3) render the prompts their model cards document. */
class ChatTemplateTest {

    @Test
    void qwenTemplateAddsItsDefaultSystemPromptAndGenerationPrompt() {
        ChatTemplate qwen = ChatTemplate.fromHuggingFace(SharedModels.require("hf-tokenizers/qwen2/tokenizer_config.json"));
        assertFalse(qwen.isPlain());
        assertEquals("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                        + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                qwen.render(List.of(ChatMessage.user("Hi")), true));
    }

    @Test
    void qwenTemplateKeepsAGivenSystemPromptAndAssistantTurns() {
        ChatTemplate qwen = ChatTemplate.fromHuggingFace(SharedModels.require("hf-tokenizers/qwen2"));
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                        + "<|im_start|>assistant\nHello!<|im_end|>\n",
                qwen.render(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi"), ChatMessage.assistant("Hello!")), false));
    }

    /**
     * Rendered + tokenized end to end, against Qwen2.5-Instruct prompts tokenized by Hugging Face as published in
     * public projects (the default-system-prompt question "What is the capital of France?", and the common
     * "You are a helpful assistant." system prompt).
     */
    @Test
    void renderedQwenPromptTokenizesToThePublishedIds() {
        ChatTemplate qwen = ChatTemplate.fromHuggingFace(SharedModels.require("hf-tokenizers/qwen2"));
        Tokenizer tokenizer = Tokenizers.fromHuggingFace(SharedModels.require("hf-tokenizers/qwen2"));
        int[] ids = tokenizer.encode(qwen.render(List.of(ChatMessage.user("What is the capital of France?")), true), false, true);
        assertArrayEquals(new int[] {151644, 8948, 198, 2610, 525, 1207, 16948, 11, 3465, 553, 54364, 14817, 13, 1446, 525,
                264, 10950, 17847, 13, 151645, 198, 151644, 872, 198, 3838, 374, 279, 6722, 315, 9625, 30, 151645, 198,
                151644, 77091, 198}, ids);
        int[] header = tokenizer.encode(qwen.render(
                List.of(ChatMessage.system("You are a helpful assistant."), ChatMessage.user("x")), false), false, true);
        assertArrayEquals(new int[] {151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198},
                java.util.Arrays.copyOf(header, 14));
    }

    @Test
    void smolLm2TemplateAddsItsDefaultSystemPrompt() {
        ChatTemplate smol = ChatTemplate.fromHuggingFace(SharedModels.require("hf-tokenizers/smollm2"));
        assertEquals("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                        + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                smol.render(List.of(ChatMessage.user("Hi")), true));
    }

    @Test
    void phi3GgufTemplateWritesBosAndUserAssistantMarkers() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("llama.cpp-vocab/ggml-vocab-phi-3.gguf"))) {
            Tokenizer tokenizer = Tokenizers.fromGguf(gguf);
            ChatTemplate phi3 = ChatTemplate.fromGguf(gguf, tokenizer);
            String prompt = phi3.render(List.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello"), ChatMessage.user("Bye")), true);
            assertEquals("<s><|user|>\nHi<|end|>\n<|assistant|>\nHello<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n", prompt);
            int[] ids = tokenizer.encode(prompt, false, true);
            assertEquals(1, ids[0]);        // <s>
            assertEquals(32010, ids[1]);    // <|user|>
            assertTrue(tokenizer.isEndOfGeneration(32007)); // <|end|>
            assertTrue(tokenizer.isEndOfGeneration(32000)); // <|endoftext|> (eos)
        }
    }

    @Test
    void raiseExceptionAbortsRenderingWithTheTemplatesMessage() {
        ChatTemplate t = new ChatTemplate(
                "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}ok",
                "<s>", "</s>");
        assertEquals("ok", t.render(List.of(ChatMessage.user("x")), false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> t.render(List.of(ChatMessage.assistant("x")), false));
        assertTrue(e.getMessage().contains("Conversation must start with user"), e.getMessage());
    }

    /** Python's string methods come first, but Jinjava's sandbox still refuses Java's reflection to templates. */
    @Test
    void stringsHavePythonsMethodsButNotJavasReflection() {
        assertEquals("HI|THERE", new ChatTemplate("{{ messages[0].content.upper().split()|join('|') }}", "", "")
                .render(List.of(ChatMessage.user("hi  there")), false));
        for (String escape : new String[] {"{{ messages[0].content.getClass().getName() }}", "{{ 'x'.getClass() }}",
                "{{ messages.getClass() }}"}) {
            ChatTemplate t = new ChatTemplate(escape, "", "");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> t.render(List.of(ChatMessage.user("x")), false), escape);
            assertTrue(e.getMessage().contains("getClass"), e.getMessage());
        }
    }

    @Test
    void modelWithoutTemplateGetsPlainPrompt() {
        try (GgufFile gguf = GgufFile.open(SharedModels.require("stories260K/stories260K.gguf"))) {
            ChatTemplate t = ChatTemplate.fromGguf(gguf, Tokenizers.fromGguf(gguf));
            assertTrue(t.isPlain());
            assertEquals("Once upon a time", t.render(List.of(ChatMessage.user("Once upon a time")), false));
            assertEquals("System: Be nice.\nUser: Hi\nAssistant:",
                    t.render(List.of(ChatMessage.system("Be nice."), ChatMessage.user("Hi")), true));
        }
    }
}

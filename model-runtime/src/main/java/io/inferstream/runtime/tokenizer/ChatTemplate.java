package io.inferstream.runtime.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.tokenizer.jinja.HuggingFaceJinja;
import io.inferstream.runtime.tokenizer.jinja.JinjavaSyntaxRewriter;

/**
 * A model's chat template ({@code tokenizer.chat_template} / tokenizer_config {@code chat_template}), a Jinja
 * program rendered with a real Jinja engine (Jinjava) the way Hugging Face renders it ({@link HuggingFaceJinja}):
 * {@code trim_blocks} and {@code lstrip_blocks} on, Python's string methods, variables {@code messages},
 * {@code add_generation_prompt}, {@code bos_token}, {@code eos_token} and any the caller adds (such as
 * {@code enable_thinking}), and the functions {@code raise_exception(message)} and {@code strftime_now(format)}.
 * The syntax Jinjava cannot read (slices with a step, keyword arguments with operators) is rewritten first
 * ({@link JinjavaSyntaxRewriter}). A model without a template gets a plain prompt.
 */
public final class ChatTemplate {

    public static final String GGUF_KEY = "tokenizer.chat_template";

    private static final HuggingFaceJinja SYSTEM_CLOCK_JINJA = new HuggingFaceJinja(Clock.systemDefaultZone());

    private final String source; // null: plain prompt
    private final String jinjavaSource; // source with the syntax Jinjava cannot read rewritten
    private final String bosToken;
    private final String eosToken;
    private final HuggingFaceJinja jinja;

    /**
     * @param source   the Jinja template, or null for the plain-prompt fallback
     * @param bosToken text bound to {@code bos_token} ("" when the model has none)
     * @param eosToken text bound to {@code eos_token}
     */
    public ChatTemplate(String source, String bosToken, String eosToken) {
        this(source, bosToken, eosToken, SYSTEM_CLOCK_JINJA);
    }

    private ChatTemplate(String source, String bosToken, String eosToken, HuggingFaceJinja jinja) {
        this.source = source == null || source.isBlank() ? null : source;
        this.jinjavaSource = this.source == null ? null : JinjavaSyntaxRewriter.rewrite(this.source);
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.jinja = jinja;
    }

    /** The same template with {@code strftime_now} reading {@code clock} (tests pin the date). */
    ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(source, bosToken, eosToken, new HuggingFaceJinja(clock));
    }

    /** The fallback for models without a template (base models such as TinyStories). */
    public static ChatTemplate plain() {
        return new ChatTemplate(null, "", "");
    }

    /** The GGUF's {@code tokenizer.chat_template}, with BOS/EOS texts from its tokenizer; plain when absent. */
    public static ChatTemplate fromGguf(GgufFile gguf, Tokenizer tokenizer) {
        return new ChatTemplate(gguf.getString(GGUF_KEY, null), pieceOrEmpty(tokenizer, tokenizer.bos()),
                pieceOrEmpty(tokenizer, tokenizer.eos()));
    }

    /**
     * From a Hugging Face {@code tokenizer_config.json} (or the folder holding it): its {@code chat_template}
     * (a string, or a list of named templates of which "default" is used; else a {@code chat_template.jinja} beside it,
     * else the {@code chat_template} of a {@code chat_template.json} there, where a model with vision keeps it),
     * {@code bos_token}, {@code eos_token}.
     */
    public static ChatTemplate fromHuggingFace(Path configOrFolder) {
        Path config = Files.isDirectory(configOrFolder) ? configOrFolder.resolve("tokenizer_config.json") : configOrFolder;
        if (!Files.isRegularFile(config)) {
            return plain();
        }
        JsonNode root = HuggingFaceVocabularyReader.readJson(config);
        JsonNode t = root.path("chat_template");
        String template = null;
        if (t.isTextual()) {
            template = t.asText();
        } else if (t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText())) {
                    template = named.path("template").asText();
                }
            }
            if (template == null) {
                throw new IllegalArgumentException(config + ": chat_template is a list without a 'default' entry");
            }
        }
        Path jinja = config.resolveSibling("chat_template.jinja");
        if (template == null && Files.isRegularFile(jinja)) {
            template = readTemplateFile(jinja); // newer transformers save the template beside the config
        }
        Path processor = config.resolveSibling("chat_template.json");
        if (template == null && Files.isRegularFile(processor)) { // a model with vision: its processor's template
            JsonNode p = HuggingFaceVocabularyReader.readJson(processor).path("chat_template");
            if (!p.isTextual()) {
                throw new IllegalArgumentException(processor + ": chat_template is not a string");
            }
            template = p.asText();
        }
        return new ChatTemplate(template, tokenText(root.path("bos_token")), tokenText(root.path("eos_token")));
    }

    private static String readTemplateFile(Path file) {
        try {
            return Files.readString(file, java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot read chat template " + file, e);
        }
    }

    private static String tokenText(JsonNode n) {
        return n.isTextual() ? n.asText() : n.isObject() ? n.path("content").asText("") : "";
    }

    private static String pieceOrEmpty(Tokenizer tokenizer, int id) {
        return id < 0 ? "" : tokenizer.piece(id);
    }

    public boolean isPlain() {
        return source == null;
    }

    /** The template text, or null for the plain fallback. */
    public String source() {
        return source;
    }

    /**
     * Renders the conversation. The result contains the template's special tokens as text: encode it with
     * special-token parsing on, and without adding BOS again when the template already writes {@code bos_token}.
     *
     * @throws IllegalArgumentException when the template raises an exception or fails to render
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders the conversation with extra template variables, as transformers' {@code apply_chat_template(...,
     * **kwargs)} passes them: {@code enable_thinking=false} turns a reasoning model's thinking off where its template
     * reads that variable. A variable may replace {@code bos_token} or {@code eos_token}, not the conversation. The
     * plain fallback ignores them.
     *
     * @throws IllegalArgumentException when the template raises an exception or fails to render
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        if (variables.containsKey("messages") || variables.containsKey("add_generation_prompt")) {
            throw new IllegalArgumentException("messages and add_generation_prompt are render's own arguments, not variables");
        }
        if (source == null) {
            return renderPlain(messages, addGenerationPrompt);
        }
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> map = new LinkedHashMap<>();
            map.put("role", m.role());
            map.put("content", m.content());
            msgs.add(map);
        }
        Map<String, Object> vars = new HashMap<>();
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        vars.putAll(variables);
        vars.put("messages", msgs);
        vars.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result = jinja.render(jinjavaSource, vars);
        List<TemplateError> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL)
                .collect(Collectors.toList());
        if (!fatal.isEmpty()) {
            throw new IllegalArgumentException("chat template failed: " + fatal.stream()
                    .map(ChatTemplate::describe).collect(Collectors.joining("; ")));
        }
        return result.getOutput();
    }

    /** The error and its causes (Jinjava wraps what raise_exception threw). */
    private static String describe(TemplateError e) {
        StringBuilder sb = new StringBuilder(e.getMessage());
        for (Throwable t = e.getException(); t != null; t = t.getCause()) {
            if (t.getMessage() != null && !sb.toString().contains(t.getMessage())) {
                sb.append(": ").append(t.getMessage());
            }
        }
        return sb.toString();
    }

    /** No template: one message is the prompt itself; a conversation becomes "Role: text" lines. */
    private static String renderPlain(List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (messages.size() == 1 && !addGenerationPrompt) {
            return messages.get(0).content();
        }
        StringBuilder sb = new StringBuilder();
        for (ChatMessage m : messages) {
            sb.append(capitalize(m.role())).append(": ").append(m.content()).append('\n');
        }
        if (addGenerationPrompt) {
            sb.append("Assistant:");
        }
        return sb.toString();
    }

    private static String capitalize(String s) {
        return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}

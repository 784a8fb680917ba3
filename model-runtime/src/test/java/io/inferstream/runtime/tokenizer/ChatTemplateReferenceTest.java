package io.inferstream.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Every case of {@code reference/chat-templates.json} renders as Python's jinja2 rendered it, set up as transformers'
 * apply_chat_template sets it up ({@code reference/chat-templates.py}): reasoning and dated-header templates, Python
 * string methods, slices with steps, keyword arguments with operators, strftime_now at the fixture's fixed time.
 */
class ChatTemplateReferenceTest {

    @TestFactory
    Stream<DynamicTest> rendersAsJinja2() throws IOException {
        JsonNode fixture;
        try (InputStream in = ChatTemplateReferenceTest.class.getResourceAsStream("/reference/chat-templates.json")) {
            fixture = new ObjectMapper().readTree(in);
        }
        Clock clock = Clock.fixed(LocalDateTime.parse(fixture.get("now").asText()).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : fixture.get("cases")) {
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
                List<ChatMessage> messages = new ArrayList<>();
                for (JsonNode m : c.get("messages")) {
                    messages.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
                }
                Map<String, Object> variables = new ObjectMapper().convertValue(c.get("variables"), Map.class);
                ChatTemplate template = new ChatTemplate(c.get("template").asText(), c.get("bos_token").asText(),
                        c.get("eos_token").asText()).withClock(clock);
                assertEquals(c.get("expected").asText(),
                        template.render(messages, c.get("add_generation_prompt").asBoolean(), variables), c.get("name").asText());
            }));
        }
        return tests.stream();
    }
}

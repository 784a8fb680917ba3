package io.inferstream.runtime.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HfUriTest {

    @Test
    void parsesOwnerRepoNestedPathAndRevision() {
        HfUri u = HfUri.parse("hf://bartowski/SmolLM2-135M-Instruct-GGUF/quants/q8/model.Q8_0.gguf@a1b2c3");

        assertEquals(new HfUri("bartowski", "SmolLM2-135M-Instruct-GGUF", "quants/q8/model.Q8_0.gguf", "a1b2c3"), u);
        assertEquals("hf://bartowski/SmolLM2-135M-Instruct-GGUF/quants/q8/model.Q8_0.gguf@a1b2c3", u.toString());
    }

    @Test
    void revisionDefaultsToMain() {
        HfUri u = HfUri.parse(DefaultModels.REPLAY);

        assertEquals("main", u.revision());
        assertEquals("qwen2.5-0.5b-instruct-q8_0.gguf", u.path());
        assertEquals(DefaultModels.REPLAY, u.toString());
    }

    @Test
    void rejectsMalformedSpecsNamingThem() {
        for (String bad : new String[] {"hf://owner", "hf://owner/repo", "hf://owner/repo/", "hf:///repo/file",
                "hf://owner/repo/../secret", "hf://owner/repo/a//b", "hf://owner/repo@v1/file", "hf://own er/repo/f",
                "hf://owner/repo/file@", "hf://owner/repo/file@../x"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfUri.parse(bad), bad);
            assertTrue(e.getMessage().contains(bad), e.getMessage());
        }
    }
}

package io.inferstream.runtime.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** hf://owner/repo[@revision]: a whole repository, told apart from a file spec. */
class HfRepoTest {

    @Test
    void aSpecWithoutAPathInsideTheRepositoryIsARepository() {
        assertTrue(HfRepo.isRepoSpec("hf://HuggingFaceTB/SmolLM2-135M-Instruct"));
        assertTrue(HfRepo.isRepoSpec("hf://HuggingFaceTB/SmolLM2-135M-Instruct/"));
        assertTrue(HfRepo.isRepoSpec("hf://Qwen/Qwen2.5-0.5B-Instruct@refs/pr/1"));
        assertFalse(HfRepo.isRepoSpec("hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf"));
        assertFalse(HfRepo.isRepoSpec("hf://Qwen"));
        assertFalse(HfRepo.isRepoSpec("/models/Qwen/Qwen2.5"));
    }

    @Test
    void itsFilesAreFileSpecsAtItsRevision() {
        HfRepo repo = HfRepo.parse("hf://Qwen/Qwen2.5-0.5B-Instruct@refs/pr/1");
        assertEquals(new HfRepo("Qwen", "Qwen2.5-0.5B-Instruct", "refs/pr/1"), repo);
        assertEquals("hf://Qwen/Qwen2.5-0.5B-Instruct/model.safetensors@refs/pr/1", repo.file("model.safetensors").toString());
        assertEquals("hf://Qwen/Qwen2.5-0.5B-Instruct", HfRepo.parse("hf://Qwen/Qwen2.5-0.5B-Instruct/").toString());
    }

    @Test
    void badNamesAreRefusedNamingTheSpec() {
        String m = assertThrows(IllegalArgumentException.class, () -> HfRepo.parse("hf://Qw en/x")).getMessage();
        assertTrue(m.contains("'hf://Qw en/x'") && m.contains("owner"), m);
        m = assertThrows(IllegalArgumentException.class, () -> HfRepo.checkSpec("hf://a")).getMessage();
        assertTrue(m.contains("hf://owner/repo[@revision]"), m);
    }
}

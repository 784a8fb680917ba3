package io.inferstream.runtime.hub;

/** The one place where the default models live. */
public final class DefaultModels {

    /**
     * The model for {@code replay} and the tasks (classify, summarize, translate) when no {@code --model}
     * is given: Qwen2.5-0.5B-Instruct, Q8_0 GGUF (about 676 MB, Apache-2.0). Small enough for a laptop CPU,
     * and a real instruct model that follows classification, summarization and translation prompts.
     */
    public static final String REPLAY = "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf";

    private DefaultModels() {
    }
}

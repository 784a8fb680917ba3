/**
 * Tasks: requests that say what to do (classify, summarize, translate, generate) turned into engine work and
 * back into answers. The last stage of {@code gguf → tokenizer → model → engine → tasks}; Flink- and Avro-free
 * (the jobs module maps its Avro records to {@link io.inferstream.runtime.tasks.TaskRequest} and
 * {@link io.inferstream.runtime.tasks.TaskResult}).
 *
 * <ul>
 *   <li>{@link io.inferstream.runtime.tasks.TaskRunner}: the entry point, asynchronous and thread-safe.</li>
 *   <li>{@link io.inferstream.runtime.tasks.RunningTask}: a task in flight with its engine calls, which its timeout
 *       or {@code cancel} ends in the engine.</li>
 *   <li>{@link io.inferstream.runtime.tasks.TaskDefaults}: the one place per-task defaults live.</li>
 *   <li>{@link io.inferstream.runtime.tasks.TaskPrompts}: zero-/few-shot templates, plain or through the
 *       model's chat template, as a {@link io.inferstream.runtime.tasks.TaskPrompt}.</li>
 *   <li>{@link io.inferstream.runtime.tasks.LabelContinuations}: label tokens as they follow the prompt.</li>
 *   <li>{@link io.inferstream.runtime.tasks.SentenceChunker}, {@link io.inferstream.runtime.tasks.OutputCleaner},
 *       {@link io.inferstream.runtime.tasks.LanguageNames}: long inputs, answers, language names.</li>
 * </ul>
 *
 * See docs/tasks.md.
 */
package io.inferstream.runtime.tasks;

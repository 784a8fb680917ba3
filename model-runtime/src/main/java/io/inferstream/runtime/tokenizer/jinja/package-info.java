/**
 * Jinjava made to render chat templates as Python's Jinja does under Hugging Face transformers
 * ({@link io.inferstream.runtime.tokenizer.jinja.HuggingFaceJinja}): Python's {@code str} methods on strings
 * ({@code PythonStringMethods}, semantics in {@code PythonStr}), slices with a step
 * ({@link io.inferstream.runtime.tokenizer.jinja.PythonSlice}), {@code strftime_now} ({@code PythonStrftime}), and a
 * source rewrite for the syntax Jinjava reads differently
 * ({@link io.inferstream.runtime.tokenizer.jinja.JinjavaSyntaxRewriter}: whitespace control; and
 * {@code JinjavaExpressionRewriter}: the code in tags). Checked against jinja2 itself by
 * {@code ChatTemplateReferenceTest}.
 */
package io.inferstream.runtime.tokenizer.jinja;

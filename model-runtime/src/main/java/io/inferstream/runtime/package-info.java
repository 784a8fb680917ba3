/** The transformer engine: gguf → tokenizer → model → engine → tasks. No Flink dependency. */
package io.inferstream.runtime;

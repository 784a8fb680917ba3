/**
 * A model on disk becomes a model in memory: {@link io.inferstream.runtime.checkpoint.Checkpoint#open} takes a GGUF
 * file or a Hugging Face folder ({@code config.json}, {@code *.safetensors}, tokenizer files) and gives its
 * configuration, its weights (memory-mapped), its tokenizer and its chat template. Everything that loads a model
 * (the command line, the jobs, the GPU backend) goes through it.
 */
package io.inferstream.runtime.checkpoint;

/**
 * GGUF model files: {@link io.inferstream.runtime.gguf.GgufFile} reads and validates the header, metadata and
 * tensor index and memory-maps tensor data; {@link io.inferstream.runtime.gguf.GgmlType} lists the ggml
 * element types; {@link io.inferstream.runtime.gguf.GgufWriter} and
 * {@link io.inferstream.runtime.gguf.Quantizer} write files (tests build small models with them).
 */
package io.inferstream.runtime.gguf;

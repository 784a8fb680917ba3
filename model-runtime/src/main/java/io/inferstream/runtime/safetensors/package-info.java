/**
 * Hugging Face safetensors files: {@link io.inferstream.runtime.safetensors.SafetensorsFile} reads and
 * validates the header and memory-maps tensor data; {@link io.inferstream.runtime.safetensors.SafetensorsDtype}
 * lists the element types; {@link io.inferstream.runtime.safetensors.SafetensorsWriter} writes files (tests
 * build small checkpoints with it).
 *
 * <p>Layout: uint64 little-endian header length N, N bytes of UTF-8 JSON mapping each tensor name to
 * {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to the data section) plus an
 * optional {@code "__metadata__"} object of strings, then the data section. Shapes are row-major.
 */
package io.inferstream.runtime.safetensors;

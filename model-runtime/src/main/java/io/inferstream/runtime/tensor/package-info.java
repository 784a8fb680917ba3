/**
 * Weight matrices and the numeric kernels of the forward pass: {@link io.inferstream.runtime.tensor.Matrix}
 * (one subclass per ggml type, batched {@code matmul} over a token batch),
 * {@link io.inferstream.runtime.tensor.VectorMath} (rmsnorm, softmax, SwiGLU, ...) and the shared
 * {@link io.inferstream.runtime.tensor.WorkerPool}. Kernels use the Vector API ({@code jdk.incubator.vector})
 * when the JVM has it and plain loops otherwise ({@code -Dinferstream.vector=false} forces the loops);
 * {@code -Dinferstream.threads} sizes the pool. On Java 17 the Vector API kernels also want the JIT flag
 * {@link io.inferstream.runtime.tensor.CompilerTrapLimit} names.
 */
package io.inferstream.runtime.tensor;

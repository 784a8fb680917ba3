package io.inferstream.runtime.hub;

import java.nio.file.Path;

/**
 * A Hub file in the cache.
 *
 * @param spec     the {@code hf://} spec it resolves
 * @param path     where it lies
 * @param size     bytes on disk
 * @param complete false for a {@code .part} left by an interrupted download (the next pull resumes it)
 */
public record CachedFile(HfUri spec, Path path, long size, boolean complete) {
}

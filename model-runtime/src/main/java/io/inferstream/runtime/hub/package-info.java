/**
 * Model resolution: a {@code --model} value is a local path or {@code hf://owner/repo/path[@revision]},
 * downloaded once from the Hugging Face Hub into a cache folder ({@code ~/.cache/inferstream} by default)
 * with progress, resumable partial files and size / sha256 verification, or taken from the cache only
 * in offline mode.
 *
 * <p>Entry point: {@link io.inferstream.runtime.hub.ModelResolver}. The default model lives in
 * {@link io.inferstream.runtime.hub.DefaultModels}.
 */
package io.inferstream.runtime.hub;

/**
 * The paged KV cache's bookkeeping. {@link io.inferstream.runtime.kv.KvStore} holds the numbers (one pool
 * of fixed-size blocks per layer); {@link io.inferstream.runtime.kv.BlockPool} hands out block ids with
 * reference counts and keeps unreferenced blocks that hold a cached prefix until they are evicted (least
 * recently used first); {@link io.inferstream.runtime.kv.KvCacheManager} keeps each sequence's block table
 * and shares full blocks between sequences through their {@link io.inferstream.runtime.kv.BlockHash}
 * (parent hash + token ids).
 */
package io.inferstream.runtime.kv;

package io.inferstream.runtime.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.OptionalLong;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.kv.KvStore;
import io.inferstream.runtime.model.ModelConfig;

/** The engine's start-up line on its KV cache, with the sums written out by hand for a Llama-3.2-1B shape. */
class KvCacheSizingTest {

    private static final long GIB = 1L << 30;
    // Llama-3.2-1B: 16 layers, 8 KV heads of 64 (kvDim 512), context 131072
    private static final ModelConfig LLAMA_1B = new ModelConfig("llama", 2048, 8192, 16, 32, 8, 64, 128256, 131072,
            1e-5f, 500000f, false, null);
    // a block of 16 positions in F16: 2 (K and V) x 16 layers x 512 x 16 x 2 bytes
    private static final long PER_BLOCK = 2L * 16 * 512 * 16 * 2;
    private static final EngineConfig AUTO = EngineConfig.defaults().withKvCacheBytes(EngineConfig.AUTO_KV_CACHE)
            .withKvPrecision(KvStore.Precision.F16);

    private static KvCacheSizing sizing(EngineConfig requested, OptionalLong deviceBudget) {
        EngineConfig resolved = requested.kvCacheBytes() != EngineConfig.AUTO_KV_CACHE ? requested
                : requested.withKvCacheBytes(requested.resolveKvCacheFor(deviceBudget, 16, 512, 131072));
        return KvCacheSizing.of(requested, resolved, LLAMA_1B, deviceBudget);
    }

    @Test
    void onAGpuTheAutoPoolIsWhatThePlanLeavesAndSaysHowManyFullContextsFit() {
        // 122 GiB left by the plan: 122 x 2048 blocks of 512 KiB = 249,856 blocks = 3,997,696 tokens, 30.5 contexts of
        // 8,192 blocks
        KvCacheSizing s = sizing(AUTO, OptionalLong.of(122 * GIB));
        assertEquals(122 * GIB / PER_BLOCK, s.blocks());
        assertEquals(249856, s.blocks());
        assertEquals(249856L * 16, s.tokens());
        assertEquals(249856 * PER_BLOCK, s.bytes());
        assertEquals(249856 / 8192.0, s.fullContextSequences(), 1e-12);
        assertEquals("KV cache: 249856 blocks of 16 positions = 3997696 tokens, 122.00 GiB F16 (auto: what the device "
                + "memory plan leaves); 30.50 sequences at the full context of 131072 tokens fit at once, the scheduler "
                + "runs at most 64", s.toString());
    }

    @Test
    void anAutoPoolCappedAtEveryFullContextSaysWhatThePlanHadLeft() {
        // 4 sequences at 131072 positions: 4 x 8192 blocks (16 GiB) of the 122 GiB the plan leaves
        KvCacheSizing s = sizing(AUTO.withMaxSequences(4), OptionalLong.of(122 * GIB));
        assertEquals(4 * 8192, s.blocks());
        assertEquals(4.0, s.fullContextSequences(), 1e-12);
        assertEquals("KV cache: 32768 blocks of 16 positions = 524288 tokens, 16.00 GiB F16 (auto: enough for all 4 "
                + "sequences at the full context, of the 122.00 GiB the device memory plan leaves); 4.00 sequences at "
                + "the full context of 131072 tokens fit at once, the scheduler runs at most 4", s.toString());
    }

    @Test
    void aConfiguredPoolAndTheCpuDefaultNameTheirSource() {
        KvCacheSizing fixed = sizing(AUTO.withKvCacheBytes(GIB), OptionalLong.of(122 * GIB));
        assertEquals(GIB / PER_BLOCK, fixed.blocks());
        assertEquals("KV cache: 2048 blocks of 16 positions = 32768 tokens, 1.00 GiB F16 (--kv-cache-memory 1.00 GiB); "
                + "0.25 sequences at the full context of 131072 tokens fit at once, the scheduler runs at most 64",
                fixed.toString());
        KvCacheSizing cpu = sizing(AUTO, OptionalLong.empty());
        assertEquals(512, cpu.blocks()); // 256 MiB / 512 KiB
        assertEquals("KV cache: 512 blocks of 16 positions = 8192 tokens, 256.0 MiB F16 (auto on the CPU: the default "
                + "256.0 MiB); 0.06 sequences at the full context of 131072 tokens fit at once, the scheduler runs at "
                + "most 64", cpu.toString());
        // in F32 one sequence at 8192 positions takes 512 MiB: that much with a roomy heap, a quarter of a small one
        EngineConfig f32 = AUTO.withKvPrecision(KvStore.Precision.F32);
        EngineConfig roomy = f32.withKvCacheBytes(f32.cpuAutoBytes(16, 512, 131072, 64 * GIB, GIB));
        assertEquals("KV cache: 512 blocks of 16 positions = 8192 tokens, 512.0 MiB F32 (auto on the CPU: one sequence at "
                + "8192 positions, more than the default 256.0 MiB holds); 0.06 sequences at the full context of 131072 "
                + "tokens fit at once, the scheduler runs at most 64",
                KvCacheSizing.of(f32, roomy, LLAMA_1B, OptionalLong.empty()).toString());
        EngineConfig small = f32.withKvCacheBytes(f32.cpuAutoBytes(16, 512, 131072, 3 * GIB / 2, 0));
        assertEquals("KV cache: 384 blocks of 16 positions = 6144 tokens, 384.0 MiB F32 (auto on the CPU: what a quarter "
                + "of the Java heap and half of its free part allow, short of one sequence at 8192 positions; raise -Xmx "
                + "or set --kv-cache-memory); 0.05 sequences at the full context of 131072 tokens fit at once, the "
                + "scheduler runs at most 64", KvCacheSizing.of(f32, small, LLAMA_1B, OptionalLong.empty()).toString());
    }
}

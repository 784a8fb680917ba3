package io.inferstream.runtime.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.inferstream.runtime.gguf.Float16;

/** A file the reference implementation wrote (Hugging Face's safetensors 0.8.0; see reference/README.md), read by ours. */
class SafetensorsReferenceFileTest {

    private static Path fixture() throws URISyntaxException {
        return Path.of(SafetensorsReferenceFileTest.class.getResource("/reference/safetensors-reference.safetensors").toURI());
    }

    @Test
    void theReferenceWritersHeaderLayoutAndValuesReadBack() throws Exception {
        try (SafetensorsFile f = SafetensorsFile.open(fixture())) {
            assertEquals(Map.of("format", "pt", "source", "safetensors 0.8.0"), f.metadata());
            // the reference sorts by dtype size, then by name; its header is 376 bytes (padded), so data starts at 384
            assertEquals(List.of("scalar", "model.embed_tokens.weight", "bf16", "half", "ints"),
                    f.tensors().stream().map(SafetensorsTensor::name).toList());
            assertEquals(new SafetensorsTensor("model.embed_tokens.weight", SafetensorsDtype.F32, new long[] {3, 4}, 392, 440),
                    f.tensor("model.embed_tokens.weight"));
            assertEquals(0, f.tensor("scalar").shape().length);

            assertEquals(2.5, f.tensorData("scalar").getDouble(0));
            float[] embed = new float[12];
            f.tensorData("model.embed_tokens.weight").asFloatBuffer().get(embed);
            for (int i = 0; i < 12; i++) {
                assertEquals(i * 0.5f, embed[i]);
            }
            ByteBuffer bf16 = f.tensorData("bf16");
            float[] bf = new float[4];
            for (int i = 0; i < 4; i++) {
                bf[i] = Float16.bf16ToFloat(bf16.getShort(2 * i));
            }
            assertArrayEquals(new float[] {1f, -2f, 0.5f, Float.POSITIVE_INFINITY}, bf);
            ByteBuffer half = f.tensorData("half");
            float[] h = new float[6];
            for (int i = 0; i < 6; i++) {
                h[i] = Float16.toFloat(half.getShort(2 * i));
            }
            assertArrayEquals(new float[] {1f, -2f, 0.5f, 65504f, -0f, 3.140625f}, h);
            byte[] ints = new byte[5];
            f.tensorData("ints").get(ints);
            assertArrayEquals(new byte[] {-128, -1, 0, 1, 127}, ints);
        }
    }
}

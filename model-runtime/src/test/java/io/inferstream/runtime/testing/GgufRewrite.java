package io.inferstream.runtime.testing;

import io.inferstream.runtime.gguf.GgufFile;
import io.inferstream.runtime.gguf.GgufTensorInfo;
import io.inferstream.runtime.gguf.GgufWriter;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A GGUF file written again with a change, for tests of what a loader makes of it: its metadata and the tensors
 * {@code keep} accepts copied unchanged, then {@code change} applied to the writer (keys added or replaced).
 */
public final class GgufRewrite {

    private GgufRewrite() {
    }

    public static Path rewrite(Path original, Path out, Predicate<String> keep, Consumer<GgufWriter> change) {
        try (GgufFile src = GgufFile.open(original)) {
            GgufWriter w = new GgufWriter();
            for (String key : src.keys()) {
                if (!key.equals("general.alignment")) { // the writer sets its own
                    w.put(key, src.typeOf(key), src.get(key));
                }
            }
            change.accept(w);
            for (GgufTensorInfo t : src.tensors().values()) {
                if (keep.test(t.name())) {
                    ByteBuffer data = src.tensorData(t.name());
                    byte[] bytes = new byte[data.remaining()];
                    data.duplicate().get(bytes);
                    w.addTensor(t.name(), t.type(), t.shape(), bytes);
                }
            }
            w.write(out);
        }
        return out;
    }
}

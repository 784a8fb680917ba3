package io.inferstream.runtime.safetensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The safetensors files of one checkpoint folder, as one set of tensors: the shards that
 * {@code model.safetensors.index.json} lists (its {@code weight_map}: tensor name → file), else
 * {@code model.safetensors}, else every {@code *.safetensors} file in the folder.
 */
public final class SafetensorsShards implements AutoCloseable {

    public static final String INDEX = "model.safetensors.index.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path folder;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;

    private SafetensorsShards(Path folder, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.folder = folder;
        this.files = files;
        this.byTensor = byTensor;
    }

    /** Opens and checks every shard's header; a shard the index names that is missing, or lacks its tensors, fails here. */
    public static SafetensorsShards open(Path folder) {
        List<SafetensorsFile> files = new ArrayList<>();
        try {
            Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
            Path index = folder.resolve(INDEX);
            if (Files.isRegularFile(index)) {
                Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
                for (Map.Entry<String, String> e : weightMap(index).entrySet()) {
                    SafetensorsFile shard = byName.get(e.getValue());
                    if (shard == null) {
                        Path p = folder.resolve(e.getValue());
                        if (!Files.isRegularFile(p)) {
                            throw new SafetensorsFormatException(index + ": weight_map puts tensor " + e.getKey() + " in "
                                    + e.getValue() + ", which is not in " + folder);
                        }
                        shard = SafetensorsFile.open(p);
                        files.add(shard);
                        byName.put(e.getValue(), shard);
                    }
                    if (!shard.hasTensor(e.getKey())) {
                        throw new SafetensorsFormatException(index + ": weight_map puts tensor " + e.getKey() + " in "
                                + shard.path() + ", whose header has no such tensor");
                    }
                    byTensor.put(e.getKey(), shard);
                }
            } else {
                for (Path p : safetensorsFiles(folder)) {
                    SafetensorsFile shard = SafetensorsFile.open(p);
                    files.add(shard);
                    for (SafetensorsTensor t : shard.tensors()) {
                        SafetensorsFile before = byTensor.putIfAbsent(t.name(), shard);
                        if (before != null) {
                            throw new SafetensorsFormatException("tensor " + t.name() + " is in both " + before.path()
                                    + " and " + shard.path() + " (and there is no " + INDEX + " to say which counts)");
                        }
                    }
                }
            }
            return new SafetensorsShards(folder, files, byTensor);
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    /** The shard files an index names, each once, in the order of its weight_map. */
    public static List<String> shardFiles(Path index) {
        return new ArrayList<>(new java.util.LinkedHashSet<>(weightMap(index).values()));
    }

    private static Map<String, String> weightMap(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw new SafetensorsFormatException(index + " is not valid JSON: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.path("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new SafetensorsFormatException(index + ": weight_map is missing or empty; expected {tensor: file}");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String file = e.getValue().asText("");
            if (!e.getValue().isTextual() || file.isEmpty() || file.contains("/") || file.contains("\\")) {
                throw new SafetensorsFormatException(index + ": weight_map entry " + e.getKey() + " is " + e.getValue()
                        + "; expected the name of a file in the same folder");
            }
            out.put(e.getKey(), file);
        }
        return out;
    }

    /** model.safetensors alone when present (other files beside it are not the model), else all, by name. */
    private static List<Path> safetensorsFiles(Path folder) {
        Path single = folder.resolve("model.safetensors");
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        TreeSet<Path> found = new TreeSet<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(folder, "*.safetensors")) {
            dir.forEach(found::add);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + folder, e);
        }
        if (found.isEmpty()) {
            throw new SafetensorsFormatException(folder + " has no model.safetensors, " + INDEX + " or other *.safetensors file");
        }
        return new ArrayList<>(found);
    }

    public Path folder() {
        return folder;
    }

    public List<SafetensorsFile> files() {
        return files;
    }

    public boolean hasTensor(String name) {
        return byTensor.containsKey(name);
    }

    /** The tensor's header entry; throws naming the folder and the tensor when no shard has it. */
    public SafetensorsTensor tensor(String name) {
        return fileOf(name).tensor(name);
    }

    /** The file holding {@code name}. */
    public SafetensorsFile fileOf(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new SafetensorsFormatException(folder + ": no safetensors file of this checkpoint has tensor " + name);
        }
        return f;
    }

    /** The tensor's bytes, memory-mapped, little-endian. */
    public ByteBuffer tensorData(String name) {
        return fileOf(name).tensorData(name);
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}

package io.inferstream.runtime.safetensors;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The JSON header of a safetensors file, parsed and validated: the {@code __metadata__} strings and the tensor
 * index in data-offset order. The header's spelling (keys, layout) lives here; {@link SafetensorsWriter} uses it.
 */
final class SafetensorsHeader {

    static final String METADATA = "__metadata__";
    static final String DTYPE = "dtype";
    static final String SHAPE = "shape";
    static final String DATA_OFFSETS = "data_offsets";

    /** Duplicate keys would make a tensor ambiguous; text after the object means a corrupt header. */
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    final Map<String, String> metadata;
    final List<SafetensorsTensor> tensors; // by data offset

    private SafetensorsHeader(Map<String, String> metadata, List<SafetensorsTensor> tensors) {
        this.metadata = metadata;
        this.tensors = tensors;
    }

    /**
     * Parses the {@code json} bytes that follow the 8-byte length in a file of {@code fileSize} bytes; the data
     * section starts right after them. Fails with a {@link SafetensorsFormatException} naming {@code path}.
     */
    static SafetensorsHeader parse(Path path, byte[] json, long fileSize) {
        long dataStart = 8L + json.length;
        long dataSize = fileSize - dataStart;
        JsonNode root = readJson(path, json);
        if (root == null || !root.isObject()) {
            throw fail(path, "header is " + describe(root) + ", expected a JSON object");
        }
        Map<String, String> metadata = Map.of();
        List<SafetensorsTensor> tensors = new ArrayList<>(root.size());
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals(METADATA)) {
                metadata = metadata(path, e.getValue());
            } else {
                tensors.add(tensor(path, e.getKey(), e.getValue(), dataStart, dataSize, fileSize));
            }
        }
        tensors.sort(Comparator.comparingLong(SafetensorsTensor::begin).thenComparingLong(SafetensorsTensor::end));
        checkNoOverlap(path, tensors, dataStart);
        return new SafetensorsHeader(metadata, Collections.unmodifiableList(tensors));
    }

    /** Strict UTF-8 (a malformed byte is an error, not U+FFFD), then JSON. */
    private static JsonNode readJson(Path path, byte[] json) {
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(json);
        CharBuffer text = CharBuffer.allocate(json.length); // UTF-8 never decodes to more chars than bytes
        CoderResult r = utf8.decode(in, text, true);
        if (r.isError()) {
            throw fail(path, "header is not valid UTF-8: malformed byte 0x"
                    + Integer.toHexString(json[in.position()] & 0xFF) + " at header byte " + in.position()
                    + " (file offset " + (8 + in.position()) + ")");
        }
        utf8.flush(text);
        try {
            return JSON.readTree(text.flip().toString());
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new SafetensorsFormatException(path + ": header is not valid JSON: " + e.getOriginalMessage()
                    + (at == null ? "" : " (at header character " + at.getCharOffset() + ")"), e);
        }
    }

    private static Map<String, String> metadata(Path path, JsonNode node) {
        if (node.isNull()) {
            return Map.of(); // the reference implementation reads it as an Option
        }
        if (!node.isObject()) {
            throw fail(path, "\"" + METADATA + "\" is " + describe(node) + ", expected an object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw fail(path, "\"" + METADATA + "\" key '" + e.getKey() + "' is " + describe(e.getValue())
                        + ", expected a string");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static SafetensorsTensor tensor(Path path, String name, JsonNode node, long dataStart, long dataSize,
                                            long fileSize) {
        String what = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw fail(path, what + " is " + describe(node) + ", expected an object with \"" + DTYPE + "\", \""
                    + SHAPE + "\" and \"" + DATA_OFFSETS + "\"");
        }
        JsonNode dtypeNode = field(path, what, node, DTYPE);
        if (!dtypeNode.isTextual()) {
            throw fail(path, what + " \"" + DTYPE + "\" is " + describe(dtypeNode) + ", expected a string such as \"F32\"");
        }
        SafetensorsDtype dtype = SafetensorsDtype.of(dtypeNode.textValue()).orElseThrow(() -> fail(path,
                what + " has dtype \"" + dtypeNode.textValue() + "\", which the safetensors format does not define; "
                        + "known dtypes: " + Arrays.toString(SafetensorsDtype.values())));

        JsonNode shapeNode = field(path, what, node, SHAPE);
        if (!shapeNode.isArray()) {
            throw fail(path, what + " \"" + SHAPE + "\" is " + describe(shapeNode)
                    + ", expected an array of non-negative integers");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = integer(path, what + " " + SHAPE + "[" + i + "]", shapeNode.get(i));
            if (shape[i] < 0) {
                throw fail(path, what + " has negative dimension " + SHAPE + "[" + i + "] = " + shape[i]
                        + " in " + shapeNode + ", expected >= 0");
            }
        }

        JsonNode offsets = field(path, what, node, DATA_OFFSETS);
        if (!offsets.isArray() || offsets.size() != 2) {
            throw fail(path, what + " \"" + DATA_OFFSETS + "\" is " + describe(offsets)
                    + ", expected [begin, end]: two non-negative integers");
        }
        long begin = integer(path, what + " " + DATA_OFFSETS + "[0]", offsets.get(0));
        long end = integer(path, what + " " + DATA_OFFSETS + "[1]", offsets.get(1));
        if (begin < 0 || end < 0 || begin > end) {
            throw fail(path, what + " has " + DATA_OFFSETS + " " + offsets
                    + ", expected two non-negative integers with begin <= end");
        }

        long expected = dtype.bytes();
        try {
            for (long d : shape) {
                expected = Math.multiplyExact(expected, d);
            }
        } catch (ArithmeticException e) {
            throw fail(path, what + " has shape " + Arrays.toString(shape) + ": more bytes than a long can count");
        }
        if (end - begin != expected) {
            throw fail(path, what + " of dtype " + dtype + " and shape " + Arrays.toString(shape) + " takes "
                    + expected + " bytes, but its " + DATA_OFFSETS + " " + offsets + " span " + (end - begin));
        }
        if (end > dataSize) {
            throw fail(path, what + " has " + DATA_OFFSETS + " " + offsets + " ending beyond the data section: the file "
                    + "has " + fileSize + " bytes, so the data section (from byte " + dataStart + ") has " + dataSize
                    + ": the file is truncated");
        }
        return new SafetensorsTensor(name, dtype, shape, dataStart + begin, dataStart + end);
    }

    private static JsonNode field(Path path, String what, JsonNode node, String key) {
        JsonNode v = node.get(key);
        if (v == null) {
            throw fail(path, what + " has no \"" + key + "\" (it has " + fieldNames(node) + ")");
        }
        return v;
    }

    private static long integer(Path path, String what, JsonNode n) {
        if (!n.isIntegralNumber()) {
            throw fail(path, what + " is " + describe(n) + ", expected an integer");
        }
        if (!n.canConvertToLong()) {
            throw fail(path, what + " is " + n + ", beyond the range of a long");
        }
        return n.longValue();
    }

    /** {@code tensors} sorted by begin. Empty tensors hold no bytes, so they overlap nothing. */
    private static void checkNoOverlap(Path path, List<SafetensorsTensor> tensors, long dataStart) {
        SafetensorsTensor furthest = null; // the tensor reaching furthest so far
        for (SafetensorsTensor t : tensors) {
            if (t.byteCount() == 0) {
                continue;
            }
            if (furthest != null && furthest.end() > t.begin()) {
                throw fail(path, "tensor '" + t.name() + "' " + DATA_OFFSETS + " " + relative(t, dataStart)
                        + " overlap tensor '" + furthest.name() + "' " + relative(furthest, dataStart));
            }
            if (furthest == null || t.end() > furthest.end()) {
                furthest = t;
            }
        }
    }

    private static String relative(SafetensorsTensor t, long dataStart) {
        return "[" + (t.begin() - dataStart) + "," + (t.end() - dataStart) + "]";
    }

    private static String fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names.isEmpty() ? "no fields" : names.toString();
    }

    /** "a string \"x\"", "an array [1,2]", ...: the found value for messages, cut to a readable length. */
    private static String describe(JsonNode n) {
        if (n == null || n.isMissingNode()) {
            return "empty";
        }
        String type = switch (n.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> n.getNodeType().toString().toLowerCase(Locale.ROOT);
        };
        if (n.isNull()) {
            return type;
        }
        String text = n.toString();
        return type + " " + (text.length() > 60 ? text.substring(0, 57) + "..." : text);
    }

    private static SafetensorsFormatException fail(Path path, String message) {
        return new SafetensorsFormatException(path + ": " + message);
    }
}

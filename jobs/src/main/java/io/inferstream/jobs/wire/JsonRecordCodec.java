package io.inferstream.jobs.wire;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/**
 * Plain JSON for one generated record class: one object per record, keys are the Avro field
 * names. Unlike Avro's own JSON encoding, unions are not wrapped ({@code "max_new_tokens": 64},
 * not {@code {"int": 64}}), so hand-written JSON works.
 *
 * <p>Reading: missing fields take their schema default (a field without one is required); unknown
 * keys are ignored, so a producer on a newer schema is still read; enum symbols match
 * case-insensitively ({@code "classify"}); {@code timestamp-millis} accepts epoch milliseconds or
 * an ISO-8601 instant; {@code bytes} are base64. Duplicate keys and trailing content are errors.
 * Writing: timestamps as epoch milliseconds, enums as their symbols, nulls written out.
 */
public final class JsonRecordCodec<T extends SpecificRecord> implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Class<T> type;
    private transient SpecificData model;
    private transient Schema schema;

    public JsonRecordCodec(Class<T> type) {
        this.type = type;
    }

    public static <T extends SpecificRecord> JsonRecordCodec<T> of(Class<T> type) {
        return new JsonRecordCodec<>(type);
    }

    private void init() {
        if (schema == null) {
            model = SpecificData.getForClass(type);
            schema = model.getSchema(type);
        }
    }

    public T decode(byte[] payload) throws MalformedRecordException {
        init();
        String text = StrictUtf8.decode(payload, "payload");
        JsonNode tree;
        try {
            tree = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new MalformedRecordException("invalid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " at line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr() : ""), e);
        }
        if (tree == null || !tree.isObject()) {
            throw new MalformedRecordException("JSON payload is not an object");
        }
        @SuppressWarnings("unchecked")
        T record = (T) read(tree, schema, "");
        return record;
    }

    public byte[] encode(T record) {
        init();
        try {
            return MAPPER.writeValueAsBytes(write(record, schema));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + schema.getName() + " as JSON", e);
        }
    }

    /** The record as a JSON tree (for logs and the command line). */
    public ObjectNode toTree(T record) {
        init();
        return (ObjectNode) write(record, schema);
    }

    private Object read(JsonNode node, Schema s, String path) throws MalformedRecordException {
        if (node.isNull() && s.getType() != Schema.Type.NULL && s.getType() != Schema.Type.UNION) {
            throw new MalformedRecordException("field '" + path + "' must not be null");
        }
        switch (s.getType()) {
            case RECORD:
                return readRecord(node, s, path);
            case UNION:
                return readUnion(node, s, path);
            case NULL:
                if (!node.isNull()) {
                    throw mismatch(path, "null", node);
                }
                return null;
            case BOOLEAN:
                if (!node.isBoolean()) {
                    throw mismatch(path, "boolean", node);
                }
                return node.booleanValue();
            case INT:
                if (!node.isIntegralNumber() || !node.canConvertToInt()) {
                    throw mismatch(path, "int", node);
                }
                return node.intValue();
            case LONG:
                return readLong(node, s, path);
            case FLOAT:
                if (!node.isNumber()) {
                    throw mismatch(path, "number", node);
                }
                return node.floatValue();
            case DOUBLE:
                if (!node.isNumber()) {
                    throw mismatch(path, "number", node);
                }
                return node.doubleValue();
            case STRING:
                if (!node.isTextual()) {
                    throw mismatch(path, "string", node);
                }
                return node.textValue();
            case BYTES:
                if (!node.isTextual()) {
                    throw mismatch(path, "base64 string", node);
                }
                try {
                    return ByteBuffer.wrap(Base64.getDecoder().decode(node.textValue()));
                } catch (IllegalArgumentException e) {
                    throw new MalformedRecordException("field '" + path + "': not base64: " + e.getMessage());
                }
            case ENUM:
                return readEnum(node, s, path);
            case ARRAY: {
                if (!node.isArray()) {
                    throw mismatch(path, "array", node);
                }
                List<Object> list = new ArrayList<>(node.size());
                for (int i = 0; i < node.size(); i++) {
                    list.add(read(node.get(i), s.getElementType(), path + "[" + i + "]"));
                }
                return list;
            }
            case MAP: {
                if (!node.isObject()) {
                    throw mismatch(path, "object", node);
                }
                Map<String, Object> map = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    map.put(e.getKey(), read(e.getValue(), s.getValueType(), path + "." + e.getKey()));
                }
                return map;
            }
            default:
                throw new MalformedRecordException("field '" + path + "': Avro type " + s.getType()
                        + " is not supported in JSON");
        }
    }

    private Object readRecord(JsonNode node, Schema s, String path) throws MalformedRecordException {
        if (!node.isObject()) {
            throw mismatch(path.isEmpty() ? s.getName() : path, "object", node);
        }
        Object record = model.newRecord(null, s);
        for (Schema.Field field : s.getFields()) {
            String fieldPath = path.isEmpty() ? field.name() : path + "." + field.name();
            JsonNode child = node.get(field.name());
            Object value;
            if (child == null) {
                if (!field.hasDefaultValue()) {
                    throw new MalformedRecordException("missing required field '" + fieldPath + "'");
                }
                value = model.deepCopy(field.schema(), model.getDefaultValue(field));
            } else {
                value = read(child, field.schema(), fieldPath);
            }
            model.setField(record, field.name(), field.pos(), value);
        }
        return record;
    }

    private Object readUnion(JsonNode node, Schema s, String path) throws MalformedRecordException {
        boolean nullable = false;
        MalformedRecordException last = null;
        for (Schema branch : s.getTypes()) {
            if (branch.getType() == Schema.Type.NULL) {
                nullable = true;
                continue;
            }
            if (node.isNull()) {
                continue;
            }
            try {
                return read(node, branch, path);
            } catch (MalformedRecordException e) {
                last = e;
            }
        }
        if (node.isNull()) {
            if (nullable) {
                return null;
            }
            throw new MalformedRecordException("field '" + path + "' must not be null");
        }
        throw last;
    }

    private Object readLong(JsonNode node, Schema s, String path) throws MalformedRecordException {
        LogicalType logical = s.getLogicalType();
        boolean millis = logical instanceof LogicalTypes.TimestampMillis;
        if (millis && node.isTextual()) {
            try {
                return Instant.parse(node.textValue());
            } catch (DateTimeParseException e) {
                throw new MalformedRecordException("field '" + path + "': '" + node.textValue()
                        + "' is not an ISO-8601 instant such as 2026-01-31T12:00:00Z");
            }
        }
        if (!node.isIntegralNumber() || !node.canConvertToLong()) {
            throw mismatch(path, millis ? "epoch milliseconds or ISO-8601 instant" : "long", node);
        }
        return millis ? Instant.ofEpochMilli(node.longValue()) : (Object) node.longValue();
    }

    private Object readEnum(JsonNode node, Schema s, String path) throws MalformedRecordException {
        if (!node.isTextual()) {
            throw mismatch(path, "one of " + s.getEnumSymbols(), node);
        }
        String wanted = node.textValue().trim();
        for (String symbol : s.getEnumSymbols()) {
            if (symbol.equalsIgnoreCase(wanted)) {
                return model.createEnum(symbol, s);
            }
        }
        throw new MalformedRecordException("field '" + path + "': unknown " + s.getName() + " '"
                + node.textValue() + "', expected one of " + s.getEnumSymbols() + " (any case)");
    }

    private static MalformedRecordException mismatch(String path, String expected, JsonNode actual) {
        String got = actual.isTextual() ? "string" : actual.getNodeType().name().toLowerCase(Locale.ROOT);
        return new MalformedRecordException("field '" + path + "': expected " + expected + ", got " + got
                + (actual.isValueNode() ? " " + abbreviate(actual.toString()) : ""));
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }

    private JsonNode write(Object value, Schema s) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (value == null) {
            return f.nullNode();
        }
        switch (s.getType()) {
            case RECORD: {
                ObjectNode obj = f.objectNode();
                for (Schema.Field field : s.getFields()) {
                    obj.set(field.name(), write(model.getField(value, field.name(), field.pos()), field.schema()));
                }
                return obj;
            }
            case UNION:
                return write(value, s.getTypes().get(model.resolveUnion(s, value)));
            case BOOLEAN:
                return f.booleanNode((Boolean) value);
            case INT:
                return f.numberNode((Integer) value);
            case LONG:
                return f.numberNode(value instanceof Instant ? ((Instant) value).toEpochMilli() : (Long) value);
            case FLOAT:
                return f.numberNode((Float) value);
            case DOUBLE:
                return f.numberNode((Double) value);
            case STRING:
            case ENUM:
                return f.textNode(value.toString());
            case BYTES: {
                ByteBuffer buf = ((ByteBuffer) value).duplicate();
                byte[] bytes = new byte[buf.remaining()];
                buf.get(bytes);
                return f.textNode(Base64.getEncoder().encodeToString(bytes));
            }
            case ARRAY: {
                ArrayNode arr = f.arrayNode();
                for (Object item : (Iterable<?>) value) {
                    arr.add(write(item, s.getElementType()));
                }
                return arr;
            }
            case MAP: {
                ObjectNode obj = f.objectNode();
                for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                    obj.set(e.getKey().toString(), write(e.getValue(), s.getValueType()));
                }
                return obj;
            }
            default:
                throw new IllegalArgumentException("Avro type " + s.getType() + " is not supported in JSON");
        }
    }

}

package io.inferstream.jobs.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.inferstream.runtime.eval.EvalSetFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericEnumSymbol;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.IndexedRecord;
import org.apache.parquet.avro.AvroParquetReader;
import org.apache.parquet.avro.AvroSchemaConverter;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.io.LocalInputFile;

/**
 * Evaluation sets in Parquet ({@code *.parquet}): one example per row, columns named like the JSONL fields
 * ({@code id, task, text, labels, ..., expected_label, reference}); other columns (an InferenceRequest's
 * {@code created_at}, {@code sampling}) are ignored, as unknown JSON fields are.
 *
 * <p>Files written with the InferenceRequest Avro schema plus the two answer columns are read with the Avro
 * schema they carry; files from other writers (DuckDB, Spark, pyarrow) through parquet-avro's conversion of
 * the Parquet schema, with three-level lists read as lists of their elements rather than of one-field
 * records. Binary columns without a string annotation (older Hive and Impala files) are read as UTF-8 text
 * when they are valid UTF-8. A struct column stands for a JSON object (DuckDB and pyarrow write a
 * {@code metadata} object so), its null fields for absent keys.
 */
public final class ParquetEvalSetFormat implements EvalSetFormat {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    @Override
    public boolean reads(Path file) {
        Path name = file.getFileName();
        return name != null && name.toString().toLowerCase(Locale.ROOT).endsWith(".parquet");
    }

    @Override
    public List<ObjectNode> rows(Path file) throws IOException {
        PlainParquetConfiguration conf = new PlainParquetConfiguration();
        conf.setBoolean(AvroSchemaConverter.ADD_LIST_ELEMENT_RECORDS, false);
        List<ObjectNode> rows = new ArrayList<>();
        try (ParquetReader<GenericRecord> reader = AvroParquetReader.<GenericRecord>builder(named(file), conf)
                .withDataModel(GenericData.get())
                .build()) {
            for (GenericRecord row = reader.read(); row != null; row = reader.read()) {
                ObjectNode node = NODES.objectNode();
                for (Schema.Field field : row.getSchema().getFields()) {
                    node.set(field.name(), json(row.get(field.pos())));
                }
                rows.add(node);
            }
        } catch (RuntimeException e) {
            // parquet-mr reports a file that is not Parquet, or a truncated one, as a RuntimeException.
            throw new IOException(file + ": cannot read as Parquet: " + e.getMessage(), e);
        }
        return rows;
    }

    /** A local file that parquet-mr's errors call by its path. */
    private static LocalInputFile named(Path file) {
        return new LocalInputFile(file) {
            @Override
            public String toString() {
                return file.toString();
            }
        };
    }

    /**
     * An Avro value as JSON: strings and enum symbols as text, lists as arrays, maps and records (structs) as
     * objects. A null inside a map or struct is left out: a writer that turns JSON objects into a struct
     * column (DuckDB, pyarrow) stores a key some rows lack as null there, and to a JSON object it is absent.
     */
    private static JsonNode json(Object value) {
        if (value == null) {
            return NODES.nullNode();
        }
        if (value instanceof CharSequence || value instanceof GenericEnumSymbol<?>) {
            return NODES.textNode(value.toString());
        }
        if (value instanceof Integer i) {
            return NODES.numberNode(i);
        }
        if (value instanceof Long l) {
            return NODES.numberNode(l);
        }
        if (value instanceof Float f) {
            return NODES.numberNode(f);
        }
        if (value instanceof Double d) {
            return NODES.numberNode(d);
        }
        if (value instanceof Boolean b) {
            return NODES.booleanNode(b);
        }
        if (value instanceof Collection<?> list) {
            ArrayNode array = NODES.arrayNode();
            list.forEach(element -> array.add(json(element)));
            return array;
        }
        if (value instanceof Map<?, ?> map) {
            ObjectNode object = NODES.objectNode();
            map.forEach((k, v) -> {
                if (v != null) {
                    object.set(String.valueOf(k), json(v));
                }
            });
            return object;
        }
        if (value instanceof IndexedRecord record) {
            ObjectNode object = NODES.objectNode();
            for (Schema.Field field : record.getSchema().getFields()) {
                Object v = record.get(field.pos());
                if (v != null) {
                    object.set(field.name(), json(v));
                }
            }
            return object;
        }
        if (value instanceof ByteBuffer bytes) {
            return binary(bytes.duplicate());
        }
        if (value instanceof GenericFixed fixed) {
            return binary(ByteBuffer.wrap(fixed.bytes()));
        }
        return NODES.textNode(String.valueOf(value));
    }

    private static JsonNode binary(ByteBuffer bytes) {
        byte[] copy = new byte[bytes.remaining()];
        bytes.get(copy);
        try {
            return NODES.textNode(StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(copy)).toString());
        } catch (CharacterCodingException e) {
            return NODES.binaryNode(copy); // not text: the data set check names the field
        }
    }
}

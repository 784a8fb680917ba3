package io.inferstream.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.util.RandomData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Schema evolution guard (rules in docs/schemas.md). Every released version of a schema is kept
 * under src/test/resources/compat/&lt;Name&gt;/v&lt;N&gt;.avsc; the current schema must read data
 * written with each of them, checked both by Avro's SchemaCompatibility and by really writing
 * records with the old schema and reading them with the current generated class.
 */
class SchemaCompatibilityTest {
    private static final int RECORDS = 200;

    @ParameterizedTest
    @ValueSource(strings = {"InferenceRequest", "InferenceResult", "DeadLetter", "ChatMessage", "Digest"})
    void currentSchemaReadsEveryReleasedVersion(String name) throws Exception {
        Schema current = currentSchema(name);
        List<Path> released = releasedVersions(name);
        assertFalse(released.isEmpty(), "no released copy of " + name + " under compat/" + name + "/");
        for (Path file : released) {
            Schema old = new Schema.Parser().parse(file.toFile());
            assertEquals(List.of(), incompatibilities(current, old), name + " cannot read data written with " + file);
            assertRoundTrip(name, old, current);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"InferenceRequest", "InferenceResult", "DeadLetter", "ChatMessage", "Digest"})
    void fieldsAddedSinceTheLatestReleaseHaveDefaults(String name) throws Exception {
        List<Path> released = releasedVersions(name);
        Schema latest = new Schema.Parser().parse(released.get(released.size() - 1).toFile());
        List<String> missingDefaults = new ArrayList<>();
        collectNewFieldsWithoutDefault(currentSchema(name), recordsByName(latest), missingDefaults);
        assertEquals(List.of(), missingDefaults, "new fields of " + name + " need defaults");
    }

    @Test
    void checkRejectsANewFieldWithoutADefault() {
        // The guard must be able to fail: a reader with an added required field cannot read old data.
        Schema old = InferenceRequest.getClassSchema();
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : old.getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        fields.add(new Schema.Field("priority", Schema.create(Schema.Type.INT), "added without a default"));
        Schema evolved = Schema.createRecord(old.getName(), old.getDoc(), old.getNamespace(), false, fields);
        List<String> problems = incompatibilities(evolved, old);
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("priority"), problems.get(0));
    }

    @Test
    void releasedVersionsAreNumberedWithoutGaps() throws Exception {
        for (String name : List.of("InferenceRequest", "InferenceResult", "DeadLetter", "ChatMessage", "Digest")) {
            List<Path> released = releasedVersions(name);
            for (int i = 0; i < released.size(); i++) {
                assertEquals("v" + (i + 1) + ".avsc", released.get(i).getFileName().toString(), name);
            }
        }
    }

    private static List<String> incompatibilities(Schema reader, Schema writer) {
        SchemaCompatibility.SchemaPairCompatibility result =
                SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
        return result.getResult().getIncompatibilities().stream()
                .map(i -> i.getType() + " at " + i.getLocation() + ": " + i.getMessage())
                .collect(Collectors.toList());
    }

    /**
     * Writes random records with {@code old}, reads them into the generated class (current
     * schema), writes those back and projects them onto {@code old} again: every value the old
     * writer stored must survive unchanged.
     */
    private static void assertRoundTrip(String name, Schema old, Schema current) throws IOException {
        Class<?> type = SpecificData.get().getClass(current);
        SpecificData model = SpecificData.getForClass(type);
        GenericDatumWriter<Object> oldWriter = new GenericDatumWriter<>(old);
        SpecificDatumReader<SpecificRecord> upgrade = new SpecificDatumReader<>(old, current, model);
        SpecificDatumWriter<SpecificRecord> currentWriter = new SpecificDatumWriter<>(current, model);
        GenericDatumReader<GenericRecord> downgrade = new GenericDatumReader<>(current, old);
        int n = 0;
        for (Object datum : new RandomData(GenericData.get(), old, RECORDS, 1234L + name.hashCode(), false)) {
            GenericRecord original = (GenericRecord) datum;
            SpecificRecord read = upgrade.read(null, DecoderFactory.get().binaryDecoder(write(oldWriter, original), null));
            assertEquals(type, read.getClass());
            GenericRecord back = downgrade.read(null,
                    DecoderFactory.get().binaryDecoder(write(currentWriter, read), null));
            assertEquals(original, back,
                    name + " record changed on the way through the current schema:\n" + original + "\n" + back);
            n++;
        }
        assertEquals(RECORDS, n);
    }

    private static <T> byte[] write(org.apache.avro.io.DatumWriter<T> writer, T datum) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        writer.write(datum, encoder);
        encoder.flush();
        return out.toByteArray();
    }

    private static void collectNewFieldsWithoutDefault(Schema current, Map<String, Schema> released, List<String> out) {
        for (Schema record : recordsByName(current).values()) {
            Schema before = released.get(record.getFullName());
            for (Schema.Field f : record.getFields()) {
                boolean isNew = before != null && before.getField(f.name()) == null;
                if (isNew && !f.hasDefaultValue()) {
                    out.add(record.getName() + "." + f.name());
                }
            }
        }
    }

    private static Map<String, Schema> recordsByName(Schema schema) {
        Map<String, Schema> records = new HashMap<>();
        collectRecords(schema, records);
        return records;
    }

    private static void collectRecords(Schema s, Map<String, Schema> out) {
        switch (s.getType()) {
            case RECORD:
                if (out.putIfAbsent(s.getFullName(), s) == null) {
                    for (Schema.Field f : s.getFields()) {
                        collectRecords(f.schema(), out);
                    }
                }
                break;
            case UNION:
                s.getTypes().forEach(t -> collectRecords(t, out));
                break;
            case ARRAY:
                collectRecords(s.getElementType(), out);
                break;
            case MAP:
                collectRecords(s.getValueType(), out);
                break;
            default:
                break;
        }
    }

    private static Schema currentSchema(String name) throws ClassNotFoundException {
        return SpecificData.get().getSchema(Class.forName("io.inferstream.schema." + name));
    }

    private static List<Path> releasedVersions(String name) throws IOException, URISyntaxException {
        URL dir = SchemaCompatibilityTest.class.getResource("/compat/" + name);
        if (dir == null) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(Path.of(dir.toURI()))) {
            return files.filter(p -> p.getFileName().toString().matches("v\\d+\\.avsc"))
                    .sorted(Comparator.comparingInt(p -> Integer.parseInt(p.getFileName().toString().replaceAll("\\D", ""))))
                    .collect(Collectors.toList());
        }
    }
}

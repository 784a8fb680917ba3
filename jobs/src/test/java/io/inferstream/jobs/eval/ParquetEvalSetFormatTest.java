package io.inferstream.jobs.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.inferstream.cli.InferStream;
import io.inferstream.runtime.eval.EvalDataset;
import io.inferstream.runtime.eval.EvalExample;
import io.inferstream.runtime.eval.EvalReport;
import io.inferstream.runtime.eval.TaskEvaluation;
import io.inferstream.runtime.testing.SharedModels;
import io.inferstream.schema.InferenceRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.parquet.avro.AvroParquetWriter;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.io.LocalOutputFile;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code eval --data *.parquet}: the same examples, checks and metrics as the JSONL the rows came from. */
class ParquetEvalSetFormatTest {

    private static final List<String> SAMPLE_SETS = List.of("classification", "summarization", "translation");

    @TempDir
    Path dir;

    @Test
    void parquetWrittenWithTheRequestSchemaGivesTheExamplesOfTheJsonLines() throws Exception {
        for (String set : SAMPLE_SETS) {
            List<EvalExample> expected = EvalDataset.read(sampleSet(set));
            Path parquet = writeWithRequestSchema(dir.resolve(set + ".parquet"), expected);
            assertEquals(expected, EvalDataset.read(parquet), set);
        }
    }

    @Test
    void parquetWrittenByDuckDbFromTheJsonLinesGivesTheSameExamples() throws Exception {
        // DuckDB, an engine independent of parquet-mr, as a user would convert a set: lists, structs for the
        // metadata objects (a key one row lacks is a null there), all-null columns.
        Path mixed = dir.resolve("mixed.jsonl");
        Files.writeString(mixed, """
                {"id":"c1","task":"CLASSIFY","text":"Great!","labels":["positive","negative"],"expected_label":"positive","metadata":{"channel":"chat"}}
                {"id":"s1","task":"SUMMARIZE","text":"A long story.","reference":"A story.","max_new_tokens":16,"metadata":{"domain":"support"}}
                {"id":"g1","task":"GENERATE","text":"Once upon a time"}
                """);
        List<Path> sets = new ArrayList<>(SAMPLE_SETS.stream().map(ParquetEvalSetFormatTest::sampleSet).toList());
        sets.add(mixed);
        for (Path set : sets) {
            Path parquet = dir.resolve(set.getFileName() + "-duckdb.parquet");
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
                s.execute("COPY (FROM read_json('" + set + "')) TO '" + parquet + "' (FORMAT parquet)");
            }
            assertEquals(EvalDataset.read(set), EvalDataset.read(parquet), set.toString());
        }
    }

    @Test
    void parquetFromOtherWritersIsReadByColumnName() throws Exception {
        // What Spark or pyarrow write: three-level lists, a MAP group, int64 numbers, a text column without a
        // string annotation (older Hive), no Avro schema in the footer, columns in another order.
        MessageType schema = MessageTypeParser.parseMessageType("""
                message spark_schema {
                  optional binary task (STRING);
                  optional binary id (STRING);
                  optional binary text;
                  optional group labels (LIST) { repeated group list { optional binary element (STRING); } }
                  optional int64 max_new_tokens;
                  optional group metadata (MAP) {
                    repeated group key_value { required binary key (STRING); optional binary value (STRING); }
                  }
                  optional binary target_language (STRING);
                  optional binary expected_label (STRING);
                  optional binary reference (STRING);
                  optional double score;
                }""");
        Path file = dir.resolve("lake.parquet");
        SimpleGroupFactory rows = new SimpleGroupFactory(schema);
        try (ParquetWriter<Group> writer = ExampleParquetWriter.builder(new LocalOutputFile(file)).withType(schema).build()) {
            Group c = rows.newGroup().append("task", "CLASSIFY").append("id", "c1").append("text", "Ça marche très bien")
                    .append("expected_label", "positive").append("score", 0.5);
            Group labels = c.addGroup("labels");
            labels.addGroup("list").append("element", "positive");
            labels.addGroup("list").append("element", "negative");
            c.addGroup("metadata").addGroup("key_value").append("key", "channel").append("value", "chat");
            writer.write(c);
            writer.write(rows.newGroup().append("task", "TRANSLATE").append("id", "t1").append("text", "Hello")
                    .append("max_new_tokens", 32L).append("target_language", "zh").append("reference", "你好"));
        }
        List<EvalExample> examples = EvalDataset.read(file);
        assertEquals(List.of(
                new EvalExample("c1", "CLASSIFY", "Ça marche très bien", List.of("positive", "negative"), null, null, null,
                        null, Map.of("channel", "chat"), "positive", null),
                new EvalExample("t1", "TRANSLATE", "Hello", List.of(), null, "zh", null, 32, Map.of(), null, "你好")),
                examples);
    }

    @Test
    void aRowTheMetricCannotScoreIsRejectedNamingFileRowAndField() throws Exception {
        List<EvalExample> examples = new ArrayList<>(EvalDataset.read(sampleSet("summarization")).subList(0, 3));
        EvalExample second = examples.get(1);
        examples.set(1, new EvalExample(second.id(), second.task(), second.text(), second.labels(), second.sourceLanguage(),
                second.targetLanguage(), second.instruction(), second.maxNewTokens(), second.metadata(), null, null));
        Path file = writeWithRequestSchema(dir.resolve("no-reference.parquet"), examples);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EvalDataset.read(file));
        assertEquals(file + ": row 2: SUMMARIZE example '" + second.id() + "' has no 'reference'", e.getMessage());

        Path duplicate = writeWithRequestSchema(dir.resolve("duplicate.parquet"), List.of(examples.get(0), examples.get(0)));
        assertEquals(duplicate + ": row 2: duplicate id '" + examples.get(0).id() + "'",
                assertThrows(IllegalArgumentException.class, () -> EvalDataset.read(duplicate)).getMessage());
    }

    @Test
    void aFileThatIsNotParquetFailsNamingIt() throws Exception {
        Path file = dir.resolve("set.parquet");
        Files.copy(sampleSet("classification"), file);
        IOException e = assertThrows(IOException.class, () -> EvalDataset.read(file));
        assertTrue(e.getMessage().startsWith(file + ": cannot read as Parquet: " + file + " is not a Parquet file"), e.getMessage());
    }

    @Test
    void evalOfAParquetSetReportsWhatTheJsonLinesGive() throws Exception {
        Path model = SharedModels.require("stories260K/stories260K.gguf");
        Path jsonl = dir.resolve("classification.jsonl");
        Files.write(jsonl, Files.readAllLines(sampleSet("classification")).subList(0, 12));
        Path parquet = writeWithRequestSchema(dir.resolve("classification.parquet"), EvalDataset.read(jsonl));
        Path summaries = writeWithRequestSchema(dir.resolve("summarization.parquet"),
                EvalDataset.read(sampleSet("summarization")).subList(0, 6));

        EvalReport fromJsonl = eval(model, dir.resolve("out-jsonl"), jsonl);
        EvalReport fromParquet = eval(model, dir.resolve("out-parquet"), parquet, summaries);
        assertEquals(List.of("CLASSIFY", "SUMMARIZE"), fromParquet.tasks().stream().map(TaskEvaluation::task).toList());
        TaskEvaluation a = fromJsonl.tasks().get(0);
        TaskEvaluation b = fromParquet.tasks().get(0);
        assertEquals(12, b.examples());
        assertEquals(a.metrics(), b.metrics());
        assertEquals(a.confusionMatrix(), b.confusionMatrix());
        assertEquals(a.promptTokens(), b.promptTokens());
        TaskEvaluation s = fromParquet.tasks().get(1);
        assertEquals(6, s.examples());
        assertTrue(s.generatedTokens() >= 6 && s.metrics().containsKey("rougeL_f"), s.toString());
        assertTrue(Files.exists(dir.resolve("out-parquet/reliability-classification.png")));
    }

    private static EvalReport eval(Path model, Path out, Path... data) throws IOException {
        List<String> args = new ArrayList<>(List.of("eval", "--model", model.toString(), "--offline", "--context", "512",
                "--max-new-tokens", "12", "--out", out.toString(), "--data"));
        for (Path d : data) {
            args.add(d.toString());
        }
        assertEquals(0, new CommandLine(new InferStream()).execute(args.toArray(String[]::new)));
        return EvalReport.fromJson(Files.readString(out.resolve("report.json")));
    }

    private static Path sampleSet(String name) {
        return SharedModels.repositoryRoot().resolve("sample-data/eval/" + name + ".jsonl");
    }

    /** The rows as a data lake would hold them: InferenceRequest's columns plus the two answer columns. */
    private static Path writeWithRequestSchema(Path file, List<EvalExample> examples) throws IOException {
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : InferenceRequest.getClassSchema().getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        Schema optionalString = Schema.createUnion(Schema.create(Schema.Type.NULL), Schema.create(Schema.Type.STRING));
        fields.add(new Schema.Field("expected_label", optionalString, null, Schema.Field.NULL_DEFAULT_VALUE));
        fields.add(new Schema.Field("reference", optionalString, null, Schema.Field.NULL_DEFAULT_VALUE));
        Schema schema = Schema.createRecord("EvalExample", null, "io.inferstream.eval", false, fields);
        Schema task = schema.getField("task").schema();
        try (ParquetWriter<GenericRecord> writer = AvroParquetWriter.<GenericRecord>builder(new LocalOutputFile(file))
                .withSchema(schema).withDataModel(GenericData.get()).build()) {
            for (EvalExample e : examples) {
                GenericRecord row = new GenericData.Record(schema);
                row.put("id", e.id());
                row.put("task", new GenericData.EnumSymbol(task, e.task()));
                row.put("text", e.text());
                row.put("labels", e.labels());
                row.put("source_language", e.sourceLanguage());
                row.put("target_language", e.targetLanguage());
                row.put("instruction", e.instruction());
                row.put("max_new_tokens", e.maxNewTokens());
                row.put("metadata", e.metadata());
                row.put("created_at", 1_768_467_601_000L);
                row.put("expected_label", e.expectedLabel());
                row.put("reference", e.reference());
                writer.write(row);
            }
        }
        return file;
    }
}

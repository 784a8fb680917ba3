package io.inferstream.jobs.batch;

import io.inferstream.jobs.source.RawRecord;
import io.inferstream.schema.InferenceRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.fs.Path;
import org.apache.flink.formats.parquet.avro.AvroParquetReaders;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.Collector;

/**
 * A bounded Flink {@link FileSource} over one request file, as {@link RawRecord}s for the shared
 * request decoder, so that Parquet and JSON lines are validated and dead-lettered exactly like
 * Kafka records.
 *
 * <p>Parquet rows are read with the InferenceRequest Avro schema and re-encoded as Avro
 * single-object bytes (what a Kafka producer would send): the decoder then applies the same
 * validation, and a rejected row's dead letter keeps bytes that can be decoded again.
 */
final class RequestFileSource {
    private RequestFileSource() {
    }

    static DataStream<RawRecord> of(StreamExecutionEnvironment env, InputFile file) {
        Path path = new Path(file.path());
        if (file.format() == InputFormat.PARQUET) {
            FileSource<InferenceRequest> source = FileSource
                    .forRecordStreamFormat(AvroParquetReaders.forSpecificRecord(InferenceRequest.class), path)
                    .build();
            return env.fromSource(source, WatermarkStrategy.noWatermarks(), "parquet-requests")
                    .uid("parquet-requests")
                    .map(new ParquetRowToRaw(file.path())).name("parquet-to-raw").uid("parquet-to-raw");
        }
        FileSource<String> source = FileSource.forRecordStreamFormat(new TextLineInputFormat(), path).build();
        return env.fromSource(source, WatermarkStrategy.noWatermarks(), "jsonl-requests")
                .uid("jsonl-requests")
                .flatMap(new JsonLineToRaw(file.path())).name("jsonl-to-raw").uid("jsonl-to-raw");
    }

    /** Re-encodes a Parquet row as Avro single-object bytes. */
    static final class ParquetRowToRaw implements MapFunction<InferenceRequest, RawRecord> {
        private static final long serialVersionUID = 1L;
        private final String file;

        ParquetRowToRaw(String file) {
            this.file = file;
        }

        @Override
        public RawRecord map(InferenceRequest row) {
            try {
                ByteBuffer encoded = InferenceRequest.getEncoder().encode(row);
                byte[] bytes = new byte[encoded.remaining()];
                encoded.get(bytes);
                return RawRecord.fromFile(file, bytes);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot re-encode a row of '" + file + "'", e);
            } catch (RuntimeException e) {
                // A row the Avro encoder refuses (a null in a required field) is still a record to
                // dead-letter, not a reason to fail the run: its JSON text goes to the decoder.
                return RawRecord.fromFile(file, row.toString().getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    /** One non-blank line, as UTF-8 bytes. */
    static final class JsonLineToRaw implements FlatMapFunction<String, RawRecord> {
        private static final long serialVersionUID = 1L;
        private final String file;

        JsonLineToRaw(String file) {
            this.file = file;
        }

        @Override
        public void flatMap(String line, Collector<RawRecord> out) {
            if (!line.isBlank()) {
                out.collect(RawRecord.fromFile(file, line.getBytes(StandardCharsets.UTF_8)));
            }
        }
    }
}

package io.inferstream.jobs;

import io.inferstream.jobs.decode.DecodeRequestsFunction;
import io.inferstream.jobs.decode.RequestDecoder;
import io.inferstream.jobs.infer.InferenceStage;
import io.inferstream.jobs.sink.ExactlyOnceKafkaSink;
import io.inferstream.jobs.sink.ResultParquetSink;
import io.inferstream.jobs.sink.SingleObjectSerializer;
import io.inferstream.jobs.source.RawRecord;
import io.inferstream.jobs.source.RequestKafkaSource;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * The request → result data flow on Kafka, wired once for every job that uses it:
 *
 * <pre>
 *  KafkaSource(requests) → decode ─┬─ valid → inference stage → KafkaSink(results, exactly-once)
 *                                  │                          └→ FileSink(Parquet, task=…/date=…)  [optional]
 *                                  └─ malformed → KafkaSink(dead letters, exactly-once)
 * </pre>
 *
 * Results and dead letters are Avro single-object records keyed by request id. Exactly-once needs
 * checkpointing enabled on the environment: transactions and Parquet part files commit on
 * checkpoints.
 */
public final class RequestPipeline {
    private final String bootstrapServers;
    private final List<String> requestTopics;
    private final String resultTopic;
    private final String deadLetterTopic;
    private final String groupId;
    private final String transactionalIdPrefix;
    private final Duration transactionTimeout;
    private final String parquetPath; // null: no Parquet output
    private final boolean bounded;
    private final RequestDecoder decoder;
    private final InferenceStage inference;

    private RequestPipeline(Builder b) {
        this.bootstrapServers = Objects.requireNonNull(b.bootstrapServers, "bootstrapServers");
        this.requestTopics = Objects.requireNonNull(b.requestTopics, "requestTopics");
        this.resultTopic = Objects.requireNonNull(b.resultTopic, "resultTopic");
        this.deadLetterTopic = Objects.requireNonNull(b.deadLetterTopic, "deadLetterTopic");
        this.groupId = Objects.requireNonNull(b.groupId, "groupId");
        this.transactionalIdPrefix = Objects.requireNonNull(b.transactionalIdPrefix, "transactionalIdPrefix");
        this.transactionTimeout = Objects.requireNonNull(b.transactionTimeout, "transactionTimeout");
        this.inference = Objects.requireNonNull(b.inference, "inference");
        this.parquetPath = b.parquetPath;
        this.bounded = b.bounded;
        this.decoder = b.decoder;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The streams the pipeline made, for jobs that add more outputs. */
    public static final class Streams {
        public final DataStream<InferenceRequest> requests;
        public final DataStream<InferenceResult> results;
        public final DataStream<DeadLetter> deadLetters;

        Streams(DataStream<InferenceRequest> requests, DataStream<InferenceResult> results,
                DataStream<DeadLetter> deadLetters) {
            this.requests = requests;
            this.results = results;
            this.deadLetters = deadLetters;
        }
    }

    /** Adds the pipeline's operators to {@code env}. */
    public Streams addTo(StreamExecutionEnvironment env) {
        KafkaSource<RawRecord> source = bounded
                ? RequestKafkaSource.boundedFromEarliest(bootstrapServers, requestTopics, groupId)
                : RequestKafkaSource.unbounded(bootstrapServers, requestTopics, groupId);
        DataStream<RawRecord> raw = env.fromSource(source, WatermarkStrategy.noWatermarks(), "requests")
                .uid("requests-source");
        SingleOutputStreamOperator<InferenceRequest> requests = raw
                .process(new DecodeRequestsFunction(decoder))
                .name("decode").uid("decode");
        DataStream<DeadLetter> deadLetters = requests.getSideOutput(DecodeRequestsFunction.DEAD_LETTERS);
        DataStream<InferenceResult> results = inference.apply(requests);

        results.sinkTo(ExactlyOnceKafkaSink.create(bootstrapServers, resultTopic, transactionalIdPrefix + "-results",
                        transactionTimeout, new SingleObjectSerializer<>(InferenceResult.class), InferenceResult::getId))
                .name("results-kafka").uid("results-kafka");
        if (parquetPath != null) {
            results.sinkTo(ResultParquetSink.create(parquetPath)).name("results-parquet").uid("results-parquet");
        }
        deadLetters.sinkTo(ExactlyOnceKafkaSink.create(bootstrapServers, deadLetterTopic,
                        transactionalIdPrefix + "-dead-letters", transactionTimeout,
                        new SingleObjectSerializer<>(DeadLetter.class),
                        RequestPipeline::deadLetterKey))
                .name("dead-letters-kafka").uid("dead-letters-kafka");
        return new Streams(requests, results, deadLetters);
    }

    private static String deadLetterKey(DeadLetter letter) {
        if (letter.getRequestId() != null) {
            return letter.getRequestId();
        }
        return letter.getSourceTopic() != null
                ? letter.getSourceTopic() + "-" + letter.getSourcePartition() + "@" + letter.getSourceOffset()
                : String.valueOf(letter.getSourceFile());
    }

    public static final class Builder {
        private String bootstrapServers;
        private List<String> requestTopics;
        private String resultTopic;
        private String deadLetterTopic;
        private String groupId = "inferstream";
        private String transactionalIdPrefix = "inferstream";
        private Duration transactionTimeout = ExactlyOnceKafkaSink.DEFAULT_TRANSACTION_TIMEOUT;
        private String parquetPath;
        private boolean bounded;
        private RequestDecoder decoder = new RequestDecoder();
        private InferenceStage inference;

        public Builder bootstrapServers(String servers) {
            this.bootstrapServers = servers;
            return this;
        }

        public Builder requestTopics(String... topics) {
            this.requestTopics = List.of(topics);
            return this;
        }

        public Builder resultTopic(String topic) {
            this.resultTopic = topic;
            return this;
        }

        public Builder deadLetterTopic(String topic) {
            this.deadLetterTopic = topic;
            return this;
        }

        public Builder groupId(String groupId) {
            this.groupId = groupId;
            return this;
        }

        /** Prefix of the Kafka transactional ids; unique per job, stable across its restarts. */
        public Builder transactionalIdPrefix(String prefix) {
            this.transactionalIdPrefix = prefix;
            return this;
        }

        /** How long a Kafka transaction may stay open (see {@link ExactlyOnceKafkaSink#DEFAULT_TRANSACTION_TIMEOUT}). */
        public Builder transactionTimeout(Duration timeout) {
            this.transactionTimeout = timeout;
            return this;
        }

        /** Also write results as Parquet under this directory (a Flink path: file:///…, s3://…). */
        public Builder parquetPath(String path) {
            this.parquetPath = path;
            return this;
        }

        /** Read the request topics from earliest to the latest offset at start, then finish. */
        public Builder bounded(boolean bounded) {
            this.bounded = bounded;
            return this;
        }

        public Builder decoder(RequestDecoder decoder) {
            this.decoder = decoder;
            return this;
        }

        public Builder inference(InferenceStage stage) {
            this.inference = stage;
            return this;
        }

        public RequestPipeline build() {
            return new RequestPipeline(this);
        }
    }
}

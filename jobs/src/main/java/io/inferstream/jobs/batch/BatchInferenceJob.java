package io.inferstream.jobs.batch;

import io.inferstream.jobs.JobFailedException;
import io.inferstream.jobs.decode.DecodeRequestsFunction;
import io.inferstream.jobs.decode.RequestDecoder;
import io.inferstream.jobs.infer.InferenceStage;
import io.inferstream.jobs.sink.ResultParquetSink;
import io.inferstream.jobs.source.RawRecord;
import io.inferstream.schema.DeadLetter;
import io.inferstream.schema.InferenceRequest;
import io.inferstream.schema.InferenceResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Batch inference over request files (Parquet with the InferenceRequest Avro schema, and JSON
 * lines): Flink BATCH execution mode over a bounded FileSource, the same decoder and inference
 * stage as the streaming job, results as Parquet under {@code <output>/task=…/date=…/} and dead
 * letters as Parquet in {@code <output>/_dead_letters/}.
 *
 * <h2>Resume: one committed Flink job per input file</h2>
 * In BATCH mode a FileSink commits its part files only when the job ends, so a single job over all
 * inputs that is killed at 99% leaves nothing behind. The run is therefore an ordered list of
 * chunk jobs, one per input file (sorted by path), each committed when it finishes:
 * <ol>
 *   <li>Before the run, the ids in every committed result file under the output path are read
 *       (finished part files only; in-progress ones are hidden files and ignored).</li>
 *   <li>An input file with a marker in {@code <output>/_chunks/} is finished and skipped unread.</li>
 *   <li>Every other file runs as its own Flink job: source → decode → drop committed ids →
 *       inference → sinks. When the job has ended (its files are committed) the file's marker is
 *       written.</li>
 * </ol>
 * A kill loses at most the file in progress; the next run with the same output path redoes only
 * that file, and only the requests of it whose results are not committed. Dead letters of an
 * unfinished file were not committed either, so they are written once — unless the kill lands inside
 * the job's final commit, when some of that file's dead letters may be committed and written again
 * by the re-run (results are protected by the id check; dead letters have no reliable id). Request ids are expected to
 * be unique across the inputs (the id is the result's key). Large inputs should be split into
 * files of a size one is willing to redo (lake exports usually are).
 */
public final class BatchInferenceJob {
    private static final Logger LOG = LoggerFactory.getLogger(BatchInferenceJob.class);
    public static final String DEAD_LETTER_DIRECTORY = "_dead_letters";

    private final List<String> inputs;
    private final String outputPath;
    private final String deadLetterPath;
    private final InferenceStage inference;
    private final RequestDecoder decoder;
    private final Supplier<StreamExecutionEnvironment> environments;
    private final Duration progressInterval;
    private final Consumer<BatchProgress> progressListener;
    private final int parallelism;
    private final BiConsumer<InputFile, String> jobListener;

    private BatchInferenceJob(Builder b) {
        this.inputs = List.copyOf(Objects.requireNonNull(b.inputs, "inputs"));
        if (inputs.isEmpty()) {
            throw new IllegalArgumentException("a batch run needs at least one input");
        }
        this.outputPath = stripSlash(Objects.requireNonNull(b.outputPath, "outputPath"));
        this.deadLetterPath = b.deadLetterPath != null ? b.deadLetterPath : outputPath + "/" + DEAD_LETTER_DIRECTORY;
        this.inference = Objects.requireNonNull(b.inference, "inference");
        this.decoder = b.decoder;
        this.environments = b.environments;
        this.progressInterval = b.progressInterval;
        this.progressListener = b.progressListener;
        this.parallelism = b.parallelism;
        this.jobListener = b.jobListener;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Runs every unfinished input file as its own committed Flink job; returns what this run did. */
    public BatchReport run() throws Exception {
        List<InputFile> files = InputFiles.resolve(inputs);
        long[] counts = new long[files.size()];
        long total = 0;
        for (int i = 0; i < files.size(); i++) {
            counts[i] = InputRecordCount.of(files.get(i));
            total += counts[i];
        }
        ChunkLedger ledger = new ChunkLedger(outputPath);
        Set<String> committed = CommittedResults.ids(outputPath);
        LOG.info("batch run: {} input files, {} records, {} results already committed under {}",
                files.size(), total, committed.size(), outputPath);

        long started = System.nanoTime();
        int filesDone = 0;
        int filesSkipped = 0;
        long recordsDone = 0;
        Totals run = new Totals();
        for (int i = 0; i < files.size(); i++) {
            InputFile file = files.get(i);
            if (ledger.isDone(file)) {
                filesDone++;
                filesSkipped++;
                recordsDone += counts[i];
                LOG.info("skipping {}: finished by an earlier run", file.path());
                continue;
            }
            LOG.info("processing {} ({}/{})", file, i + 1, files.size());
            Totals chunk = runChunk(file, committed, i, files.size(), filesDone, recordsDone, total, run, started);
            run.add(chunk);
            ledger.markDone(file, chunk.records, chunk.results, chunk.deadLetters);
            filesDone++;
            recordsDone += chunk.records;
            report(new BatchProgress(filesDone, files.size(), recordsDone, total, run.records, run.tokens,
                    Duration.ofNanos(System.nanoTime() - started)));
        }
        BatchReport report = new BatchReport(files.size(), filesSkipped, run.records, run.skipped, run.submitted,
                run.results, run.deadLetters, run.tokens);
        if (progressListener == null) { // a listener (the CLI) prints its own summary: one copy on the terminal
            LOG.info("batch run finished: {}", report);
        } else {
            LOG.debug("batch run finished: {}", report);
        }
        return report;
    }

    private Totals runChunk(InputFile file, Set<String> committed, int index, int fileCount, int filesDone,
                            long recordsDone, long total, Totals before, long started) throws Exception {
        StreamExecutionEnvironment env = environments.get();
        env.setRuntimeMode(RuntimeExecutionMode.BATCH);
        if (parallelism > 0) {
            env.setParallelism(parallelism);
        }
        addChunk(env, file, committed);
        JobClient client = env.executeAsync("inferstream-batch " + (index + 1) + "/" + fileCount + ": " + file.path());
        LOG.info("chunk job {} runs {}", client.getJobID(), file.path());
        if (jobListener != null) {
            jobListener.accept(file, client.getJobID().toHexString());
        }
        while (true) {
            try {
                JobExecutionResult result = client.getJobExecutionResult().get(progressInterval.toMillis(), TimeUnit.MILLISECONDS);
                return Totals.of(result.getAllAccumulatorResults());
            } catch (TimeoutException stillRunning) {
                Totals live = liveTotals(client);
                report(new BatchProgress(filesDone, fileCount, recordsDone + live.records, total,
                        before.records + live.records, before.tokens + live.tokens,
                        Duration.ofNanos(System.nanoTime() - started)));
            } catch (ExecutionException e) {
                throw new JobFailedException("batch job over '" + file.path() + "'", e.getCause());
            }
        }
    }

    private static Totals liveTotals(JobClient client) {
        try {
            return Totals.of(client.getAccumulators().get(5, TimeUnit.SECONDS));
        } catch (Exception e) {
            return new Totals(); // accumulators are best effort while a job runs
        }
    }

    /** To the listener where there is one (the CLI prints it), else to the log. */
    private void report(BatchProgress progress) {
        if (progressListener != null) {
            progressListener.accept(progress);
        } else {
            LOG.info("progress: {}", progress.line());
        }
    }

    /** The operators of one chunk job. */
    void addChunk(StreamExecutionEnvironment env, InputFile file, Set<String> committed) {
        DataStream<RawRecord> raw = RequestFileSource.of(env, file)
                .map(new BatchCounters.Count<RawRecord>(BatchCounters.RECORDS)).name("count-records").uid("count-records");
        SingleOutputStreamOperator<InferenceRequest> decoded = raw
                .process(new DecodeRequestsFunction(decoder)).name("decode").uid("decode");
        DataStream<DeadLetter> deadLetters = decoded.getSideOutput(DecodeRequestsFunction.DEAD_LETTERS)
                .map(BatchCounters.deadLetters()).name("count-dead-letters").uid("count-dead-letters");
        DataStream<InferenceRequest> toCompute = decoded
                .filter(new BatchCounters.SkipCommitted(committed)).name("skip-committed").uid("skip-committed")
                .map(BatchCounters.submissions()).name("count-submissions").uid("count-submissions");
        DataStream<InferenceResult> results = inference.apply(toCompute)
                .map(new BatchCounters.CountResults()).name("count-results").uid("count-results");
        results.sinkTo(ResultParquetSink.create(outputPath)).name("results-parquet").uid("results-parquet");
        deadLetters.sinkTo(DeadLetterParquetSink.create(deadLetterPath)).name("dead-letters-parquet").uid("dead-letters-parquet");
    }

    private static String stripSlash(String path) {
        return path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
    }

    /** Accumulator values of a job. */
    private static final class Totals {
        long records;
        long skipped;
        long submitted;
        long results;
        long deadLetters;
        long tokens;

        static Totals of(Map<String, Object> accumulators) {
            Totals t = new Totals();
            t.records = get(accumulators, BatchCounters.RECORDS);
            t.skipped = get(accumulators, BatchCounters.SKIPPED);
            t.submitted = get(accumulators, BatchCounters.SUBMITTED);
            t.results = get(accumulators, BatchCounters.RESULTS);
            t.deadLetters = get(accumulators, BatchCounters.DEAD_LETTERS);
            t.tokens = get(accumulators, BatchCounters.TOKENS);
            return t;
        }

        private static long get(Map<String, Object> accumulators, String name) {
            Object v = accumulators.get(name);
            return v instanceof Number ? ((Number) v).longValue() : 0L;
        }

        void add(Totals o) {
            records += o.records;
            skipped += o.skipped;
            submitted += o.submitted;
            results += o.results;
            deadLetters += o.deadLetters;
            tokens += o.tokens;
        }
    }

    public static final class Builder {
        private List<String> inputs;
        private String outputPath;
        private String deadLetterPath;
        private InferenceStage inference;
        private RequestDecoder decoder = new RequestDecoder();
        private Supplier<StreamExecutionEnvironment> environments = StreamExecutionEnvironment::getExecutionEnvironment;
        private Duration progressInterval = Duration.ofSeconds(10);
        private Consumer<BatchProgress> progressListener;
        private int parallelism;
        private BiConsumer<InputFile, String> jobListener;

        /** Request files, directories or globs (Flink paths: /local, file:///, s3://, hdfs://). */
        public Builder inputs(List<String> inputs) {
            this.inputs = inputs;
            return this;
        }

        /** Results go under this directory; it is also what a re-run resumes from. */
        public Builder outputPath(String path) {
            this.outputPath = path;
            return this;
        }

        /** Dead letters directory; default {@code <output>/_dead_letters}. */
        public Builder deadLetterPath(String path) {
            this.deadLetterPath = path;
            return this;
        }

        public Builder inference(InferenceStage stage) {
            this.inference = stage;
            return this;
        }

        public Builder decoder(RequestDecoder decoder) {
            this.decoder = decoder;
            return this;
        }

        /** Where each chunk job runs: a local MiniCluster or a remote session cluster's environment. */
        public Builder environments(Supplier<StreamExecutionEnvironment> environments) {
            this.environments = environments;
            return this;
        }

        public Builder progressInterval(Duration interval) {
            if (interval.isNegative() || interval.isZero()) {
                throw new IllegalArgumentException("progress interval must be > 0, got " + interval);
            }
            this.progressInterval = interval;
            return this;
        }

        public Builder progressListener(Consumer<BatchProgress> listener) {
            this.progressListener = listener;
            return this;
        }

        /** Parallelism of each chunk job; 0 keeps the environment's default. */
        public Builder parallelism(int parallelism) {
            this.parallelism = parallelism;
            return this;
        }

        /** Told the Flink job id of each input file's job when it was submitted. */
        public Builder jobListener(BiConsumer<InputFile, String> listener) {
            this.jobListener = listener;
            return this;
        }

        public BatchInferenceJob build() {
            return new BatchInferenceJob(this);
        }
    }
}

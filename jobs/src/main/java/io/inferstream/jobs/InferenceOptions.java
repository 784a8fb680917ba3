package io.inferstream.jobs;

import io.inferstream.jobs.decode.RequestValidator;
import io.inferstream.jobs.infer.AsyncInferenceStage;
import io.inferstream.jobs.infer.EngineSpec;
import io.inferstream.jobs.infer.InferenceFunction;
import io.inferstream.jobs.infer.OverlongPromptPolicy;
import io.inferstream.jobs.infer.TaskOptions;
import io.inferstream.jobs.sink.ExactlyOnceKafkaSink;
import io.inferstream.runtime.backend.BackendChoice;
import io.inferstream.runtime.backend.Backends;
import io.inferstream.runtime.backend.DeviceOption;
import io.inferstream.runtime.backend.DevicePlacement;
import io.inferstream.runtime.cuda.CudaLlamaModel;
import io.inferstream.runtime.cuda.KQuantPolicy;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.hub.HubOverrides;
import io.inferstream.runtime.cli.SpeculationCliOptions;
import io.inferstream.runtime.kv.KvStore;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.apache.flink.streaming.api.environment.LocalStreamEnvironment;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The flags of the inference part of a job (a picocli mixin): device, engine limits, task defaults,
 * async I/O, parallelism and checkpointing. The field values are the defaults; a command may start from
 * other ones (replay checkpoints every second).
 */
public final class InferenceOptions {
    @Option(names = "--device", paramLabel = "DEVICE", description = "Where the model runs: cpu, cuda (a GPU: on a TaskManager with several, the subtasks' engines spread over them), cuda:N (GPU N), or auto (like cuda when a GPU is usable, else the CPU) (default: ${DEFAULT-VALUE}).")
    public String device = "cpu";

    @Option(names = "--gpu-memory-fraction", paramLabel = "F",
            description = "On a GPU: the share of the device's memory the model takes for weights, activations and KV cache, in (0, 1]; of what is free when less than that is (default: ${DEFAULT-VALUE}).")
    public double gpuMemoryFraction = CudaLlamaModel.Options.DEFAULT_MEMORY_FRACTION;

    @Option(names = "--gpu-kquants", paramLabel = "AUTO|NATIVE|F16",
            description = "On a GPU: Q4_K/Q6_K weights decoded to F16 (2 bytes a weight, the faster kernels) or kept quantized (0.75 and 1.25 bytes a weight); AUTO decodes them unless they would not fit (default: ${DEFAULT-VALUE}).")
    public KQuantPolicy gpuKQuants = KQuantPolicy.AUTO;

    @Option(names = "--quantize", paramLabel = "none|q8_0|q4_0",
            description = "On the CPU: re-encode the model's F32/F16/BF16 matrices as Q8_0 or Q4_0 when each TaskManager loads it (llama.cpp's reference quantizers), e.g. a Hugging Face BF16 folder; quantized weights stay as they are (default: ${DEFAULT-VALUE}).")
    public String quantize = "none";

    @Option(names = "--parallelism", paramLabel = "N", description = "Parallelism of the job (default: ${DEFAULT-VALUE}).")
    public int parallelism = 1;

    @Option(names = "--max-batched-tokens", paramLabel = "N",
            description = "Engine: tokens in one model step (default: ${DEFAULT-VALUE}).")
    public int maxBatchedTokens = EngineConfig.DEFAULT_MAX_BATCHED_TOKENS;

    @Option(names = "--max-sequences", paramLabel = "N",
            description = "Engine: sequences running at once (default: ${DEFAULT-VALUE}).")
    public int maxSequences = EngineConfig.DEFAULT_MAX_SEQUENCES;

    @Option(names = "--kv-cache-memory", paramLabel = "SIZE",
            description = "Engine: KV-cache memory, e.g. 256MiB; auto: on a GPU what its memory plan leaves after the weights "
                    + "and activations; on the CPU 256MiB, or one sequence at up to 8192 positions where that needs more and the "
                    + "heap has room (default: ${DEFAULT-VALUE}).")
    public String kvCacheMemory = "auto";

    @Mixin
    public SpeculationCliOptions speculation = new SpeculationCliOptions();

    @Option(names = "--kv-precision", paramLabel = "F32|F16", description = "Engine: KV-cache precision (default: ${DEFAULT-VALUE}).")
    public KvStore.Precision kvPrecision = KvStore.Precision.F32;

    @Option(names = "--no-prefix-caching", negatable = false, description = "Engine: do not share identical prompt prefixes.")
    public boolean noPrefixCaching;

    @Option(names = "--max-new-tokens", paramLabel = "N",
            description = "Tokens to generate when a request does not say; 0 = per task: summarize 96, translate 128, generate 256 (default: ${DEFAULT-VALUE}).")
    public int maxNewTokens = 0;

    @Option(names = "--max-new-tokens-cap", paramLabel = "N",
            description = "Upper bound on any request's max_new_tokens, 0 = none (default: ${DEFAULT-VALUE}).")
    public int maxNewTokensCap = 0;

    @Option(names = "--context-tokens", paramLabel = "N",
            description = "Context the tasks plan with (prompt + output), 0 = the model's; longer summarize/translate inputs are chunked."
                    + " More than a LongRoPE model's original context (Phi-3 128k, Phi-3.5, Phi-4-mini) loads it with its long factors (default: ${DEFAULT-VALUE}).")
    public int contextTokens = 0;

    @Option(names = "--overlong-prompt", paramLabel = "ERROR|TRUNCATE",
            description = "A CLASSIFY/GENERATE prompt longer than the context gets an error result or its text is cut (default: ${DEFAULT-VALUE}).")
    public OverlongPromptPolicy overlongPrompt = OverlongPromptPolicy.ERROR;

    @Option(names = "--max-text-bytes", paramLabel = "N",
            description = "Requests with a longer text (UTF-8 bytes) are dead-lettered (default: ${DEFAULT-VALUE}).")
    public int maxTextBytes = RequestValidator.DEFAULT_MAX_TEXT_BYTES;

    @Option(names = "--request-timeout", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "A request not done after this gets a DEADLINE result, e.g. 30s, 5m (default: ${DEFAULT-VALUE}).")
    public Duration requestTimeout = Duration.ofMinutes(5);

    @Option(names = "--capacity", paramLabel = "N",
            description = "Requests in flight per inference subtask; more back-pressures the source (default: ${DEFAULT-VALUE}).")
    public int capacity = 128;

    @Option(names = "--ordered", description = "Emit results in request order (default: as they finish).")
    public boolean ordered;

    @Option(names = "--checkpoint-interval", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Streaming jobs: checkpoint interval; results become visible (Kafka commit, Parquet roll) on checkpoints (default: ${DEFAULT-VALUE}). A batch run has no checkpoints and ignores it.")
    public Duration checkpointInterval = Duration.ofSeconds(10);

    @Option(names = "--transaction-timeout", paramLabel = "DURATION", converter = HumanDuration.class,
            description = "Streaming jobs: how long a Kafka output transaction may stay open: a checkpoint interval, the checkpoint and, "
                    + "after a failure, the restart with its model load; at most the brokers' transaction.max.timeout.ms, "
                    + "checked at start-up (default: ${DEFAULT-VALUE}).")
    public Duration transactionTimeout = ExactlyOnceKafkaSink.DEFAULT_TRANSACTION_TIMEOUT;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command; // the command these flags are part of; null when built in code

    /** Flink's default checkpoint timeout, kept when the transaction timeout leaves room for it. */
    static final Duration FLINK_CHECKPOINT_TIMEOUT = Duration.ofMinutes(10);

    /** The engine these flags ask for, running a local {@code model} file (the same path on every TaskManager). */
    public EngineSpec engineSpec(String model, String modelName) {
        return engineSpec(model, modelName, HubOverrides.NONE);
    }

    /** The engine these flags ask for; an {@code hf://} {@code model} is resolved on each TaskManager with {@code hub}. */
    public EngineSpec engineSpec(String model, String modelName, HubOverrides hub) {
        return new EngineSpec(model, modelName, device, maxBatchedTokens, maxSequences,
                EngineConfig.parseBytes(kvCacheMemory), kvPrecision, !noPrefixCaching, gpuMemoryFraction, gpuKQuants, quantize, speculation.speculation(), contextTokens, hub);
    }

    public TaskOptions taskOptions() {
        return new TaskOptions(maxNewTokens, maxNewTokensCap, contextTokens, overlongPrompt);
    }

    public AsyncInferenceStage stage(String model, String modelName) {
        return stage(model, modelName, HubOverrides.NONE);
    }

    public AsyncInferenceStage stage(String model, String modelName, HubOverrides hub) {
        return new AsyncInferenceStage(new InferenceFunction(engineSpec(model, modelName, hub), taskOptions(),
                requestTimeout.toMillis()), ordered, capacity);
    }

    public RequestValidator validator() {
        return new RequestValidator(maxTextBytes);
    }

    /**
     * How long a checkpoint may take before Flink gives it up: Flink's 10 min, or 90 % of what the transaction
     * timeout leaves after an interval. A transaction opens after one checkpoint and commits on the next, so a
     * checkpoint slow enough to be outlived by the broker's abort expires first: the job restarts from the last
     * checkpoint and its open transactions are replayed. Otherwise the broker aborts the transaction, the sink's
     * commit of it fails "for a known reason", and Flink only logs that and goes on: its records are lost.
     */
    public Duration checkpointTimeout() {
        Duration room = transactionTimeout.minus(checkpointInterval).multipliedBy(9).dividedBy(10);
        return room.compareTo(FLINK_CHECKPOINT_TIMEOUT) < 0 ? room : FLINK_CHECKPOINT_TIMEOUT;
    }

    /**
     * The checkpoint flags together; commands call it before they start anything. On the command line a bad
     * combination is a usage error (one line, exit code 2); built in code, an IllegalArgumentException.
     */
    public void checkCheckpointing() {
        if (transactionTimeout.compareTo(checkpointInterval.multipliedBy(2)) < 0) {
            String message = "--transaction-timeout " + HumanDuration.format(transactionTimeout)
                    + " must be at least twice --checkpoint-interval " + HumanDuration.format(checkpointInterval)
                    + ": a Kafka transaction stays open for an interval and the checkpoint that commits it";
            throw command != null ? new ParameterException(command.commandLine(), message)
                    : new IllegalArgumentException(message);
        }
    }

    /**
     * The engine's flags that hold together only as a whole (the speculative-decoding ones); commands call it before
     * they start anything. On the command line a bad value is a usage error (one line, exit code 2); built in code, an
     * IllegalArgumentException.
     */
    public void checkEngineFlags() {
        try {
            speculation.speculation();
        } catch (IllegalArgumentException e) {
            throw command != null ? new ParameterException(command.commandLine(), e.getMessage()) : e;
        }
    }

    /**
     * {@code --device} resolved on this machine, for a job whose engines run in this JVM (replay, a local batch run):
     * a device that is not here fails at once, with the message the engine's task would fail with, before a broker or
     * a job starts. Not for a job's main on a cluster: its JobManager is not where the engines run.
     */
    public BackendChoice deviceHere() {
        // the first engine's device; the subtasks' engines spread over them all (SharedEngines)
        return Backends.choose(DeviceOption.parse(device), count -> new DevicePlacement.Placed(0, count < 2 ? ""
                : "with --parallelism 2 or more, the subtasks' engines spread over cuda:0 .. cuda:" + (count - 1)));
    }

    /**
     * For a run whose engines are in this JVM: the line to print ("device: --device auto: …"), or empty after
     * {@code error} got the one-line reason the device is not here ("replay: --device cuda: no CUDA device: …").
     */
    public Optional<String> deviceLineHere(String command, Consumer<String> error) {
        try {
            return Optional.of("device: " + deviceHere().reason());
        } catch (IllegalStateException | IllegalArgumentException e) {
            error.accept(command + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * For a job's main: where {@code env} runs the job in this JVM ({@code inferstream stream} or {@code digest} on a
     * local environment), prints the {@link #deviceLineHere} line, or the error for a device that is not here (then
     * false: stop before anything starts). On a cluster, where the main runs in the JobManager and each TaskManager
     * resolves --device for its own engine, it checks nothing.
     */
    public boolean checkLocalDevice(StreamExecutionEnvironment env, String command) {
        if (!enginesHere(env)) {
            return true;
        }
        Optional<String> line = deviceLineHere(command, System.err::println);
        line.ifPresent(System.out::println);
        return line.isPresent();
    }

    /** Whether {@code env} runs the job's engines in this JVM (a local run), not on a cluster's TaskManagers. */
    public static boolean enginesHere(StreamExecutionEnvironment env) {
        return env instanceof LocalStreamEnvironment;
    }

    /** Parallelism and exactly-once checkpoints on {@code env}. */
    public void configure(StreamExecutionEnvironment env) {
        if (parallelism < 1) {
            throw new IllegalArgumentException("--parallelism must be >= 1, got " + parallelism);
        }
        checkCheckpointing();
        env.setParallelism(parallelism);
        env.enableCheckpointing(checkpointInterval.toMillis());
        env.getCheckpointConfig().setCheckpointTimeout(checkpointTimeout().toMillis());
    }

    /** These settings by flag name, for the start-up listing. */
    public Map<String, String> settings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("device", device);
        s.put("gpu-memory-fraction", Double.toString(gpuMemoryFraction));
        s.put("gpu-kquants", gpuKQuants.name());
        s.put("quantize", quantize);
        s.put("parallelism", Integer.toString(parallelism));
        s.put("max-batched-tokens", Integer.toString(maxBatchedTokens));
        s.put("max-sequences", Integer.toString(maxSequences));
        s.put("kv-cache-memory", kvCacheMemory);
        s.put("kv-precision", kvPrecision.name());
        s.put("prefix-caching", Boolean.toString(!noPrefixCaching));
        s.put("speculative-tokens", speculation.speculation().toString());
        s.put("max-new-tokens", maxNewTokens == 0 ? "per task" : Integer.toString(maxNewTokens));
        s.put("max-new-tokens-cap", maxNewTokensCap == 0 ? "none" : Integer.toString(maxNewTokensCap));
        s.put("context-tokens", contextTokens == 0 ? "the model's" : Integer.toString(contextTokens));
        s.put("overlong-prompt", overlongPrompt.name());
        s.put("max-text-bytes", Integer.toString(maxTextBytes));
        s.put("request-timeout", HumanDuration.format(requestTimeout));
        s.put("capacity", Integer.toString(capacity));
        s.put("results", ordered ? "ordered" : "unordered");
        s.put("checkpoint-interval", HumanDuration.format(checkpointInterval));
        s.put("transaction-timeout", HumanDuration.format(transactionTimeout));
        s.put("checkpoint-timeout", HumanDuration.format(checkpointTimeout()));
        return s;
    }
}

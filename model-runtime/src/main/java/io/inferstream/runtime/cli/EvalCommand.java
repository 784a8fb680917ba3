package io.inferstream.runtime.cli;

import io.inferstream.runtime.engine.Engine;
import io.inferstream.runtime.engine.EngineConfig;
import io.inferstream.runtime.eval.ClassificationEvaluation;
import io.inferstream.runtime.eval.EvalDataset;
import io.inferstream.runtime.eval.EvalExample;
import io.inferstream.runtime.eval.EvalReport;
import io.inferstream.runtime.eval.GenerationEvaluation;
import io.inferstream.runtime.eval.ReliabilityDiagramChart;
import io.inferstream.runtime.eval.TaskEvaluation;
import io.inferstream.runtime.checkpoint.Checkpoint;
import io.inferstream.runtime.hub.HubCliOptions;
import io.inferstream.runtime.model.LanguageModel;
import io.inferstream.runtime.tasks.Task;
import io.inferstream.runtime.tasks.TaskDefaults;
import io.inferstream.runtime.tasks.TaskRequest;
import io.inferstream.runtime.tasks.TaskResult;
import io.inferstream.runtime.tasks.TaskRunner;
import io.inferstream.runtime.tokenizer.ChatTemplate;
import io.inferstream.runtime.tokenizer.Tokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * {@code inferstream eval}: runs labelled data sets ({@link EvalDataset}: JSON Lines, or Parquet through the
 * jobs module's reader) through the engine with the
 * {@link TaskRunner}, and reports per data set and task the metrics (accuracy, macro-F1 and ECE for
 * classification; ROUGE, token F1 and exact match for summaries and translations), token counts and
 * throughput. Writes {@code report.md}, {@code report.json} and, per classification task, a reliability
 * diagram {@code reliability-<data set>.png} into {@code --out}. Translations are reported per language pair,
 * each scored with the tokenizer its target language needs.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a model on labelled data sets, JSON Lines or Parquet (classification, summarization, translation).")
public final class EvalCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "PATH|hf://...", description = "Model: a GGUF file or a Hugging Face folder (local path), hf://owner/repo/file.gguf, or hf://owner/repo")
    String modelSpec;

    @Mixin
    HubCliOptions hub;

    @Option(names = "--data", required = true, arity = "1..*", paramLabel = "FILE", description = "evaluation set(s): JSON Lines, or Parquet (*.parquet; read when the jobs module is on the class path, as with the inferstream command)")
    List<Path> data;

    @Option(names = "--out", defaultValue = "eval-out", description = "folder for report.md, report.json and the reliability PNGs (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--limit", defaultValue = "0", description = "at most this many examples per file; 0 = all (default ${DEFAULT-VALUE})")
    int limit;

    @Option(names = "--max-new-tokens", description = "cap on generated tokens per request (default: the request's, else the task default)")
    Integer maxNewTokens;

    @Option(names = "--context", defaultValue = "0", description = "context tokens to plan prompts with; 0 = the model's; more than a LongRoPE model's original context (Phi-3 128k, Phi-3.5, Phi-4-mini) runs it with its long factors (default ${DEFAULT-VALUE})")
    int context;

    @Option(names = "--length-normalized", description = "score labels by mean instead of summed token log-likelihood")
    boolean lengthNormalized;

    @Mixin
    EngineCliOptions engineOptions = new EngineCliOptions();

    @Mixin
    DeviceCliOption deviceOption = new DeviceCliOption();

    private final PrintStream console;
    private final PrintStream err;

    public EvalCommand() {
        this(System.out, System.err);
    }

    EvalCommand(PrintStream console, PrintStream err) {
        this.console = console;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new EvalCommand()).execute(args));
    }

    @Override
    public Integer call() {
        try {
            return run();
        } catch (IOException | IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException
                | io.inferstream.runtime.gguf.GgufFormatException e) { // a corrupt model names its file and what is wrong
            err.println("eval: " + (e instanceof java.nio.file.NoSuchFileException ? "no such file: " : "") + e.getMessage());
            return 2;
        }
    }

    private int run() throws IOException {
        // Every set is read and checked first: a bad row fails at once, not after a download and a load.
        List<List<EvalExample>> sets = new ArrayList<>();
        for (Path set : data) {
            List<EvalExample> examples = EvalDataset.read(set);
            sets.add(limit > 0 && examples.size() > limit ? examples.subList(0, limit) : examples);
        }
        Path modelPath = hub.resolver().resolve(modelSpec);
        EngineConfig config = engineOptions.config();
        TaskDefaults defaults = TaskDefaults.standard().withContextTokens(context).withLengthNormalized(lengthNormalized);
        if (maxNewTokens != null) {
            defaults = defaults.withMaxNewTokens(maxNewTokens);
        }
        String modelName = modelPath.getFileName().toString();
        List<TaskEvaluation> evaluations = new ArrayList<>();
        Map<String, ClassificationEvaluation> charts = new LinkedHashMap<>();
        try (Checkpoint checkpoint = Checkpoint.open(modelPath, context); LanguageModel model = deviceOption.load(checkpoint, err)) {
            Tokenizer tokenizer = checkpoint.tokenizer();
            ChatTemplate template = checkpoint.chatTemplate(tokenizer);
            try (Engine engine = new Engine(model, tokenizer, config)) {
                TaskRunner runner = new TaskRunner(engine, model.config(), tokenizer, template, defaults, modelName);
                for (int i = 0; i < data.size(); i++) {
                    String dataset = data.get(i).getFileName().toString();
                    for (Map.Entry<String, List<EvalExample>> group : groups(sets.get(i)).entrySet()) {
                        err.printf(Locale.ROOT, "eval: %s %s, %d examples ...%n", dataset, group.getKey(), group.getValue().size());
                        evaluations.add(evaluate(runner, dataset, group.getKey(), group.getValue(), charts));
                    }
                }
            }
        }
        EvalReport report = new EvalReport(modelName, device(), System.currentTimeMillis(), evaluations);
        Files.createDirectories(out);
        report.writeMarkdown(out.resolve("report.md"));
        report.writeJson(out.resolve("report.json"));
        ReliabilityDiagramChart chart = new ReliabilityDiagramChart();
        for (Map.Entry<String, ClassificationEvaluation> c : charts.entrySet()) {
            Path png = out.resolve("reliability-" + c.getKey() + ".png");
            chart.writePng(c.getValue().reliabilityDiagram(), "Reliability: " + modelName + " on " + c.getKey(), png);
        }
        console.print(report.toMarkdown());
        console.flush();
        err.println("eval: wrote " + out.resolve("report.md") + ", report.json" + (charts.isEmpty() ? "" : " and "
                + charts.size() + " reliability diagram(s)"));
        return 0;
    }

    /** Examples by report row: CLASSIFY, SUMMARIZE, GENERATE as they are; TRANSLATE per language pair. */
    private static Map<String, List<EvalExample>> groups(List<EvalExample> examples) {
        Map<String, List<EvalExample>> groups = new LinkedHashMap<>();
        for (EvalExample e : examples) {
            String key = e.task().equals("TRANSLATE") ? "TRANSLATE " + e.sourceLanguage() + "-" + e.targetLanguage() : e.task();
            groups.computeIfAbsent(key, k -> new ArrayList<>()).add(e);
        }
        return groups;
    }

    private TaskEvaluation evaluate(TaskRunner runner, String dataset, String taskName, List<EvalExample> examples,
                                    Map<String, ClassificationEvaluation> charts) {
        long start = System.nanoTime();
        List<CompletableFuture<TaskResult>> futures = new ArrayList<>();
        for (EvalExample e : examples) {
            futures.add(runner.run(toTaskRequest(e, maxNewTokens)));
        }
        List<TaskResult> results = futures.stream().map(CompletableFuture::join).toList();
        double elapsed = (System.nanoTime() - start) / 1e9;
        long promptTokens = 0;
        long generatedTokens = 0;
        int errors = 0;
        for (TaskResult r : results) {
            promptTokens += r.promptTokens();
            generatedTokens += r.completionTokens();
            if (r.isError()) {
                errors++;
                err.println("eval: " + r.id() + ": " + r.finishReason() + ": " + r.error());
            }
        }
        Task task = Task.valueOf(examples.get(0).task());
        TaskEvaluation evaluation;
        if (task == Task.CLASSIFY) {
            ClassificationEvaluation c = new ClassificationEvaluation();
            for (int i = 0; i < examples.size(); i++) {
                TaskResult r = results.get(i);
                if (r.isError()) {
                    c.add(examples.get(i).expectedLabel(), "(error)", 0.0);
                } else {
                    c.add(examples.get(i).expectedLabel(), r.labelProbabilities());
                }
            }
            charts.put(stem(dataset), c);
            evaluation = c.toTaskEvaluation(taskName, dataset, promptTokens, generatedTokens, elapsed);
        } else {
            String language = task == Task.TRANSLATE ? examples.get(0).targetLanguage() : "en";
            GenerationEvaluation g = GenerationEvaluation.forLanguage(language);
            for (int i = 0; i < examples.size(); i++) {
                g.add(examples.get(i).reference() == null ? "" : examples.get(i).reference(), results.get(i).output());
            }
            evaluation = TaskEvaluation.of(taskName, dataset, examples.size(), g.metrics(), promptTokens, generatedTokens, elapsed);
        }
        if (errors > 0) {
            Map<String, Double> metrics = new LinkedHashMap<>(evaluation.metrics());
            metrics.put("errors", (double) errors);
            evaluation = new TaskEvaluation(evaluation.task(), evaluation.dataset(), evaluation.examples(), metrics,
                    evaluation.promptTokens(), evaluation.generatedTokens(), evaluation.elapsedSeconds(),
                    evaluation.confusionMatrix(), evaluation.calibrationBins());
        }
        return evaluation;
    }

    /** The request an example stands for (its answer field is not part of it), max new tokens capped at {@code cap}. */
    static TaskRequest toTaskRequest(EvalExample e, Integer cap) {
        Integer maxNew = e.maxNewTokens();
        if (cap != null) {
            maxNew = maxNew == null ? null : Math.min(maxNew, cap);
        }
        return TaskRequest.builder(e.id(), Task.valueOf(e.task()), e.text())
                .labels(e.labels())
                .sourceLanguage(e.sourceLanguage())
                .targetLanguage(e.targetLanguage())
                .instruction(e.instruction())
                .maxNewTokens(maxNew)
                .metadata(e.metadata())
                .build();
    }

    private static String stem(String fileName) {
        int dot = fileName.lastIndexOf('.');
        return dot > 0 ? fileName.substring(0, dot) : fileName;
    }

    private static String device() {
        return "CPU, " + Runtime.getRuntime().availableProcessors() + " cores, Java " + System.getProperty("java.version");
    }
}

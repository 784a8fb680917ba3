/**
 * Evaluation: metrics that score model outputs against references, and the report they go into.
 * Pure Java; no engine needed.
 *
 * <ul>
 *   <li>Overlap metrics: {@link io.inferstream.runtime.eval.RougeScorer} (ROUGE-1/2/N, ROUGE-L,
 *       ROUGE-Lsum, as Google's {@code rouge_score} computes them) over a
 *       {@link io.inferstream.runtime.eval.MetricTokenizer}: {@link io.inferstream.runtime.eval.RougeTokenizer}
 *       (the reference tokenization, optional {@link io.inferstream.runtime.eval.PorterStemmer}; drops
 *       non-ASCII) or {@link io.inferstream.runtime.eval.UnicodeWordTokenizer} (one token per CJK
 *       character, for Chinese); {@link io.inferstream.runtime.eval.ExactMatch} and
 *       {@link io.inferstream.runtime.eval.TokenF1} with the SQuAD script's definitions.</li>
 *   <li>Classification: {@link io.inferstream.runtime.eval.ConfusionMatrix} (accuracy, macro-F1 over gold ∪
 *       predicted) and {@link io.inferstream.runtime.eval.ReliabilityDiagram} (equal-width confidence bins,
 *       expected calibration error), drawn by {@link io.inferstream.runtime.eval.ReliabilityDiagramChart}.</li>
 *   <li>Runs: {@link io.inferstream.runtime.eval.EvalDataset} reads sample-data/eval/*.jsonl, and files of
 *       any {@link io.inferstream.runtime.eval.EvalSetFormat} on the class path (Parquet, from the jobs module);
 *       {@link io.inferstream.runtime.eval.GenerationEvaluation} and
 *       {@link io.inferstream.runtime.eval.ClassificationEvaluation} accumulate per-task metrics;
 *       {@link io.inferstream.runtime.eval.EvalReport} holds one
 *       {@link io.inferstream.runtime.eval.TaskEvaluation} per task and writes JSON and Markdown.</li>
 * </ul>
 *
 * <p>Conventions, chosen to match the reference implementations: empty candidate or reference gives ROUGE 0
 * (also when both are empty); token F1 is 1 when both sides have no tokens; all scores are in [0, 1].
 */
package io.inferstream.runtime.eval;

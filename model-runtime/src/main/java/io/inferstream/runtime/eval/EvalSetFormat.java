package io.inferstream.runtime.eval;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A file format an evaluation set may come in besides JSON Lines, found with {@link java.util.ServiceLoader}.
 * The engine module reads no Parquet (it would pull Hadoop into every user of the engine), so the jobs
 * module, which reads Parquet for the batch job anyway, supplies that format.
 *
 * <p>A format only turns rows into JSON objects with the field names of a JSONL example; {@link EvalDataset}
 * checks them, so every format is validated alike and its errors name the file and the row.
 */
public interface EvalSetFormat {

    /** Whether this format reads {@code file}, judged by its name. */
    boolean reads(Path file);

    /** Every row of {@code file}, in order. */
    List<ObjectNode> rows(Path file) throws IOException;
}

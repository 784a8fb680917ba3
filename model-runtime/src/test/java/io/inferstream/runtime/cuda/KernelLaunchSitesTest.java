package io.inferstream.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * Every {@code launch(...)} in the engine's sources whose kernel name is written out (a literal, a choice of
 * literals, or a literal prefix plus a type suffix) passes as many arguments as each kernel it can name takes in the
 * packaged PTX. {@link CudaKernels#launch} checks the same at run time, but only on a GPU and only for the paths a
 * run takes; this catches a wrong argument list in code no GPU has run yet. Launches through a variable name are
 * left to the run-time check.
 */
class KernelLaunchSitesTest {

    private static final Pattern LAUNCH = Pattern.compile("\\.launch\\(");
    private static final Pattern LITERAL = Pattern.compile("\"([a-z0-9_]+)\"");
    /** The weight-type suffixes a kernel family's names end in. */
    private static final List<String> TYPES = List.of("f32", "f16", "bf16", "q8_0");

    @Test
    void launchesWithNamedKernelsPassTheKernelsArgumentCounts() throws IOException {
        KernelSignatures signatures = new KernelSignatures();
        List<String> kernels = new ArrayList<>();
        for (var e : CudaKernels.MODULES.entrySet()) {
            try (InputStream in = CudaKernels.class.getResourceAsStream("/cuda/" + e.getKey() + ".ptx")) {
                signatures.add(new String(in.readAllBytes(), StandardCharsets.US_ASCII));
            }
            kernels.addAll(List.of(e.getValue()));
        }
        // the sm_90a module's kernels, launched as CudaKernels.WGMMA + name
        try (InputStream in = CudaKernels.class.getResourceAsStream("/cuda/" + CudaKernels.WGMMA_MODULE + ".ptx")) {
            signatures.add(new String(in.readAllBytes(), StandardCharsets.US_ASCII));
        }
        kernels.addAll(CudaKernels.WGMMA_KERNELS);
        Path sources = Path.of("src/main/java/io/inferstream/runtime/cuda");
        assertTrue(Files.isDirectory(sources), "run from the model-runtime module: " + sources.toAbsolutePath());
        List<String> problems = new ArrayList<>();
        int checked = 0;
        try (Stream<Path> files = Files.list(sources)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                String text = Files.readString(file);
                Matcher m = LAUNCH.matcher(text);
                while (m.find()) {
                    List<String> args = arguments(text, m.end());
                    if (args.size() < 5) {
                        continue; // not CudaKernels.launch (SplitAttention.launch and the like)
                    }
                    String name = args.get(0).replace("CudaKernels.WGMMA + ", ""); // the module prefix: same parameters
                    List<String> literals = new ArrayList<>();
                    Matcher lit = LITERAL.matcher(name);
                    while (lit.find()) {
                        literals.add(lit.group(1));
                    }
                    if (literals.isEmpty()) {
                        continue; // a kernel held in a variable: checked at run time
                    }
                    boolean prefix = name.contains("+");
                    int given = args.size() - 5; // name, grid x, grid y, block, shared memory
                    String where = file.getFileName() + ":" + (1 + text.substring(0, m.start()).split("\n", -1).length - 1);
                    for (String literal : literals) {
                        List<String> named = kernels.stream()
                                .filter(k -> prefix ? k.startsWith(literal) : k.equals(literal)).toList();
                        if (named.isEmpty()) {
                            problems.add(where + ": no kernel is named " + literal + (prefix ? "..." : ""));
                        }
                        // a prefix plus a type suffix must fit each of its types; one plus another suffix (an
                        // expression such as "_h_" + type, or nothing) must fit at least one of the kernels it can name
                        List<String> typed = named.stream()
                                .filter(k -> !prefix || TYPES.contains(k.substring(literal.length()))).toList();
                        List<String> strict = prefix && !typed.isEmpty() ? typed : prefix ? List.of() : named;
                        for (String kernel : strict) {
                            int takes = signatures.of(kernel).size();
                            if (takes != given) {
                                problems.add(where + ": " + kernel + " takes " + takes + " arguments, the launch passes " + given);
                            }
                        }
                        if (prefix && typed.isEmpty() && named.stream().noneMatch(k -> signatures.of(k).size() == given)) {
                            problems.add(where + ": no kernel named " + literal + "... takes " + given + " arguments");
                        }
                    }
                    checked++;
                }
            }
        }
        System.out.println("[launch sites] " + checked + " launches with written-out kernel names checked against the PTX");
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        assertTrue(checked >= 40, "only " + checked + " launch sites found: the scan no longer reads the sources");
    }

    /** The top-level, comma-separated arguments of the call whose '(' ends just before {@code from}. */
    private static List<String> arguments(String text, int from) {
        List<String> args = new ArrayList<>();
        int depth = 0;
        int start = from;
        for (int i = from; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"') { // skip a string literal
                i++;
                while (i < text.length() && text.charAt(i) != '"') {
                    i += text.charAt(i) == '\\' ? 2 : 1;
                }
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                if (depth == 0) {
                    String last = text.substring(start, i).trim();
                    if (!last.isEmpty()) {
                        args.add(last);
                    }
                    return args;
                }
                depth--;
            } else if (c == ',' && depth == 0) {
                args.add(text.substring(start, i).trim());
                start = i + 1;
            }
        }
        return args;
    }
}

package io.inferstream.runtime.tokenizer.jinja;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Set;

/**
 * Rewrites the code of one {@code {{ … }}} or {@code {% … %}} tag where Jinjava's parser reads Python-Jinja wrongly
 * (string literals are never changed):
 * <ul>
 *   <li>a subscript with a step, {@code X[a:b:c]} (Qwen3: {@code messages[::-1]}), which Jinjava cannot parse,
 *       becomes {@code (__py_slice__(X, a, b, c))}, an empty part {@code none} ({@link PythonSlice}); X is the
 *       postfix chain before the bracket, and the parentheses keep {@code messages[::-1][0].content} working;</li>
 *   <li>a keyword argument's value, {@code name=expr} in a call, is parenthesized: in Jinjava {@code =} binds looser
 *       than arithmetic, so {@code namespace(i=messages|length - 1)} would subtract 1 from the named parameter.</li>
 * </ul>
 */
final class JinjavaExpressionRewriter {

    /** Words before a bracket that make it a list, tuple or group, not a subscript or call of what precedes. */
    private static final Set<String> KEYWORDS = Set.of("and", "or", "not", "in", "is", "if", "elif", "else", "for",
            "recursive", "set", "print", "with", "without", "context", "import", "from", "as", "include", "extends");

    private JinjavaExpressionRewriter() {
    }

    /** One tag's code with both rewrites. */
    static String rewrite(String code) {
        if (code.indexOf(':') >= 0) {
            code = rewriteSteppedSlices(code);
        }
        if (code.indexOf('=') >= 0) {
            code = parenthesizeKeywordValues(code);
        }
        return code;
    }

    // ---- X[a:b:c] → (__py_slice__(X, a, b, c)) ------------------------------------------------------------------

    private static String rewriteSteppedSlices(String code) {
        boolean rewritten = true;
        while (rewritten) { // one slice at a time, leftmost first, so that an operand's own slices are already calls
            rewritten = false;
            Literals lit = new Literals(code);
            for (int k = 0; k < code.length() && !rewritten; k++) {
                if (lit.inside(k)) {
                    k = lit.end(k);
                    continue;
                }
                if (code.charAt(k) != '[') {
                    continue;
                }
                int close = matchForward(code, lit, k);
                if (close < 0) {
                    return code; // unbalanced: Jinjava reports it
                }
                List<Integer> colons = topLevel(code, lit, k, close, ':');
                int start = colons.size() == 2 ? operandStart(code, lit, k) : -1;
                if (start >= 0) {
                    String[] parts = {code.substring(k + 1, colons.get(0)), code.substring(colons.get(0) + 1, colons.get(1)),
                            code.substring(colons.get(1) + 1, close)};
                    StringBuilder call = new StringBuilder("(").append(PythonSlice.FUNCTION).append('(')
                            .append(code.substring(start, k).strip());
                    for (String part : parts) {
                        call.append(", ").append(part.isBlank() ? "none" : part.strip());
                    }
                    code = code.substring(0, start) + call.append("))") + code.substring(close + 1);
                    rewritten = true;
                }
            }
        }
        return code;
    }

    /**
     * Where the operand of the subscript at {@code bracket} starts: a postfix chain scanned backwards (identifiers
     * joined by dots, calls, subscripts, a parenthesized expression, a list or a string literal); -1 when nothing
     * before the bracket is an operand (then it is a list literal).
     */
    private static int operandStart(String code, Literals lit, int bracket) {
        int j = skipSpaceBack(code, bracket - 1);
        int start = -1;
        while (j >= 0) {
            char c = code.charAt(j);
            if (lit.inside(j)) {
                return lit.start(j); // a string literal: nothing postfix comes before it
            }
            if (c == ')' || c == ']' || c == '}') {
                int open = matchBackward(code, lit, j);
                if (open < 0) {
                    return -1;
                }
                start = open;
                j = skipSpaceBack(code, open - 1);
                if (j < 0 || !(isIdentifier(code.charAt(j)) || ")]}".indexOf(code.charAt(j)) >= 0 || lit.inside(j))
                        || KEYWORDS.contains(identifierEndingAt(code, j))) {
                    return start; // a group or literal list: what precedes is not its callee or subscripted value
                }
            } else if (isIdentifier(c)) {
                String word = identifierEndingAt(code, j);
                if (KEYWORDS.contains(word)) {
                    return start;
                }
                start = j - word.length() + 1;
                int dot = skipSpaceBack(code, start - 1);
                if (dot < 0 || code.charAt(dot) != '.') {
                    return start;
                }
                j = skipSpaceBack(code, dot - 1);
            } else {
                return start;
            }
        }
        return start;
    }

    private static String identifierEndingAt(String code, int j) {
        int i = j;
        while (i >= 0 && isIdentifier(code.charAt(i))) {
            i--;
        }
        return code.substring(i + 1, j + 1);
    }

    private static boolean isIdentifier(char c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }

    private static int skipSpaceBack(String code, int j) {
        while (j >= 0 && Character.isWhitespace(code.charAt(j))) {
            j--;
        }
        return j;
    }

    // ---- f(name=expr) → f(name=(expr)) ---------------------------------------------------------------------------

    private static String parenthesizeKeywordValues(String code) {
        Literals lit = new Literals(code);
        List<int[]> values = new ArrayList<>(); // [start, end) of each keyword argument's value
        Deque<Character> open = new ArrayDeque<>();
        for (int k = 0; k < code.length(); k++) {
            if (lit.inside(k)) {
                k = lit.end(k);
                continue;
            }
            char c = code.charAt(k);
            if (c == '(' || c == '[' || c == '{') {
                open.push(c);
            } else if (c == ')' || c == ']' || c == '}') {
                open.poll();
            }
            if ((c == '(' || c == ',') && !open.isEmpty() && open.peek() == '(') {
                int[] value = keywordValue(code, lit, k + 1);
                if (value != null) {
                    values.add(value);
                }
            }
        }
        if (values.isEmpty()) {
            return code;
        }
        // insert "(" at each start and ")" at each end; nested values nest their parentheses
        List<int[]> marks = new ArrayList<>(); // [position, 0 = ')' / 1 = '(']
        for (int[] v : values) {
            marks.add(new int[] {v[0], 1});
            marks.add(new int[] {v[1], 0});
        }
        marks.sort((a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]));
        StringBuilder out = new StringBuilder(code.length() + 2 * values.size());
        int at = 0;
        for (int[] m : marks) {
            out.append(code, at, m[0]).append(m[1] == 1 ? '(' : ')');
            at = m[0];
        }
        return out.append(code, at, code.length()).toString();
    }

    /** {@code [start, end)} of the value when the argument at {@code from} is {@code name = value}; else null. */
    private static int[] keywordValue(String code, Literals lit, int from) {
        int i = from;
        while (i < code.length() && Character.isWhitespace(code.charAt(i))) {
            i++;
        }
        int name = i;
        while (i < code.length() && isIdentifier(code.charAt(i))) {
            i++;
        }
        if (i == name || Character.isDigit(code.charAt(name))) {
            return null;
        }
        while (i < code.length() && Character.isWhitespace(code.charAt(i))) {
            i++;
        }
        if (i >= code.length() || code.charAt(i) != '=' || (i + 1 < code.length() && code.charAt(i + 1) == '=')) {
            return null; // not a keyword argument (== is a comparison)
        }
        int start = i + 1;
        int depth = 0;
        int end = start;
        for (; end < code.length(); end++) {
            if (lit.inside(end)) {
                end = lit.end(end);
                continue;
            }
            char c = code.charAt(end);
            if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                if (depth-- == 0) {
                    break;
                }
            } else if (c == ',' && depth == 0) {
                break;
            }
        }
        while (start < end && Character.isWhitespace(code.charAt(start))) {
            start++;
        }
        int stop = end;
        while (stop > start && Character.isWhitespace(code.charAt(stop - 1))) {
            stop--;
        }
        return start < stop ? new int[] {start, stop} : null;
    }

    // ---- brackets and string literals -----------------------------------------------------------------------------

    private static int matchForward(String code, Literals lit, int open) {
        int depth = 0;
        for (int k = open; k < code.length(); k++) {
            if (lit.inside(k)) {
                k = lit.end(k);
                continue;
            }
            char c = code.charAt(k);
            if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if ((c == ')' || c == ']' || c == '}') && --depth == 0) {
                return k;
            }
        }
        return -1;
    }

    private static int matchBackward(String code, Literals lit, int close) {
        int depth = 0;
        for (int k = close; k >= 0; k--) {
            if (lit.inside(k)) {
                k = lit.start(k);
                continue;
            }
            char c = code.charAt(k);
            if (c == ')' || c == ']' || c == '}') {
                depth++;
            } else if ((c == '(' || c == '[' || c == '{') && --depth == 0) {
                return k;
            }
        }
        return -1;
    }

    /** Positions of {@code ch} directly inside the brackets at {@code open}..{@code close}. */
    private static List<Integer> topLevel(String code, Literals lit, int open, int close, char ch) {
        List<Integer> at = new ArrayList<>();
        int depth = 0;
        for (int k = open + 1; k < close; k++) {
            if (lit.inside(k)) {
                k = lit.end(k);
                continue;
            }
            char c = code.charAt(k);
            if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if (c == ')' || c == ']' || c == '}') {
                depth--;
            } else if (c == ch && depth == 0) {
                at.add(k);
            }
        }
        return at;
    }

    /** The index of the closing quote of the literal opening at {@code open} (backslash escapes skipped). */
    static int literalEnd(String code, int open) {
        char quote = code.charAt(open);
        for (int k = open + 1; k < code.length(); k++) {
            char c = code.charAt(k);
            if (c == '\\') {
                k++;
            } else if (c == quote) {
                return k;
            }
        }
        return code.length() - 1;
    }

    /** The string literals of a tag's code: for each character inside one (quotes included), its start and end. */
    private static final class Literals {
        private final int[] start;
        private final int[] end;

        Literals(String code) {
            start = new int[code.length()];
            end = new int[code.length()];
            Arrays.fill(start, -1);
            for (int k = 0; k < code.length(); k++) {
                char c = code.charAt(k);
                if (c == '\'' || c == '"') {
                    int e = literalEnd(code, k);
                    for (int m = k; m <= e; m++) {
                        start[m] = k;
                        end[m] = e;
                    }
                    k = e;
                }
            }
        }

        boolean inside(int k) {
            return start[k] >= 0;
        }

        int start(int k) {
            return start[k];
        }

        int end(int k) {
            return end[k];
        }
    }
}

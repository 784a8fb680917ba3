package io.inferstream.runtime.tokenizer.jinja;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites a chat template, before Jinjava parses it, where Jinjava reads Python-Jinja differently:
 * <ul>
 *   <li>in the code of {@code {{ … }}} and {@code {% … %}} tags, a subscript with a step ({@code messages[::-1]})
 *       becomes a call of {@link PythonSlice}, and a keyword argument's value is parenthesized
 *       ({@link JinjavaExpressionRewriter});</li>
 *   <li>{@code trim_blocks} and {@code lstrip_blocks} are applied here, by jinja2's lexer rules, instead of by
 *       Jinjava: Jinjava strips the spaces before every block tag, also in the middle of a line
 *       ({@code a {% if x %}} loses its space), and has no {@code {%+ … +%}} to opt out.</li>
 * </ul>
 * Text, comments and {@code raw} blocks keep their content; {@code {% macro %}} and {@code {% call %}} tags are left
 * alone (Jinjava reads their parameter lists itself). Jinjava then renders with its own {@code trim_blocks} and
 * {@code lstrip_blocks} off.
 */
public final class JinjavaSyntaxRewriter {

    private static final Pattern RAW = Pattern.compile("[-+]?\\s*raw\\s*[-+]?");
    private static final Pattern END_RAW = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*([-+]?)%}");
    private static final Pattern TAG_NAME = Pattern.compile("[-+]?\\s*([A-Za-z_]\\w*)");

    private JinjavaSyntaxRewriter() {
    }

    /** The template rewritten for Jinjava, to be rendered with Jinjava's trim_blocks and lstrip_blocks off. */
    public static String rewrite(String template) {
        StringBuilder out = new StringBuilder(template.length() + 16);
        int i = 0;
        boolean lineStart = true; // jinja2's line_starting: the text before the next tag starts a line
        while (true) {
            int open = nextTag(template, i);
            if (open < 0) {
                return out.append(template, i, template.length()).toString();
            }
            char kind = template.charAt(open + 1);
            char sign = open + 2 < template.length() ? template.charAt(open + 2) : ' ';
            String closing = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
            int end = kind == '#' ? template.indexOf(closing, open + 2) : tagEnd(template, open + 2, closing);
            if (end < 0) {
                return out.append(template, i, template.length()).toString(); // unterminated: Jinjava reports it
            }
            // Jinjava knows no '+': drop it (what it keeps is kept by not stripping here)
            char endSign = template.charAt(end - 1);
            String code = template.substring(sign == '+' ? open + 3 : open + 2, endSign == '+' && kind != '{' ? end - 1 : end);
            String text = template.substring(i, open);
            i = end + 2;
            if (kind == '%' && RAW.matcher(code).matches()) {
                // Jinjava's raw tags know no whitespace signs: jinja2's whitespace control is applied here, the body kept
                Matcher endRaw = END_RAW.matcher(template);
                if (!endRaw.find(i)) {
                    return out.append(template, open - text.length(), template.length()).toString(); // Jinjava reports it
                }
                out.append(sign == '-' ? stripTrailing(text) : lstrip(text, sign, lineStart)).append("{% raw %}");
                String body = template.substring(i, endRaw.start());
                boolean bodyLineStart = endSign == '-' && whitespaceRunEndsLine(body, 0, body.length());
                body = endSign == '-' ? body.substring(whitespaceRunEnd(body, 0)) : body;
                char rawSign = endRaw.group(1).isEmpty() ? ' ' : endRaw.group(1).charAt(0);
                out.append(rawSign == '-' ? stripTrailing(body) : lstrip(body, rawSign, bodyLineStart)).append("{% endraw %}");
                i = endRaw.end();
                endSign = endRaw.group(2).isEmpty() ? ' ' : endRaw.group(2).charAt(0);
                if (endSign == '-') {
                    lineStart = whitespaceRunEndsLine(template, i, template.length());
                    i = whitespaceRunEnd(template, i);
                    continue;
                }
            } else {
                out.append(kind == '{' ? text : lstrip(text, sign, lineStart)).append('{').append(kind);
                if (kind == '#' || (kind == '%' && isTag(code, "macro", "call"))) {
                    out.append(code).append(closing);
                } else {
                    out.append(JinjavaExpressionRewriter.rewrite(code)).append(closing);
                }
            }
            // trim_blocks: a block or comment tag eats the one newline after it; "-" eats all whitespace (Jinjava does)
            if (kind != '{' && endSign != '+' && endSign != '-' && i < template.length() && template.charAt(i) == '\n') {
                i++;
                lineStart = true;
            } else {
                lineStart = endSign == '-' && whitespaceRunEndsLine(template, i, template.length());
            }
        }
    }

    /** What a '-' sign leaves of the text before a tag: jinja2's {@code text.rstrip()}. */
    private static String stripTrailing(String text) {
        int to = text.length();
        while (to > 0 && PythonStr.isSpace(text.charAt(to - 1))) {
            to--;
        }
        return text.substring(0, to);
    }

    /**
     * lstrip_blocks as jinja2's lexer does it: before a block or comment tag without a '-' or '+' sign, the spaces
     * after the text's last newline go, if nothing else is there (and the text starts a line when it has no newline).
     */
    private static String lstrip(String text, char sign, boolean lineStart) {
        if (sign == '-' || sign == '+') {
            return text;
        }
        int lineFrom = text.lastIndexOf('\n') + 1;
        if ((lineFrom == 0 && !lineStart) || lineFrom == text.length()) {
            return text;
        }
        for (int k = lineFrom; k < text.length(); k++) {
            if (!PythonStr.isSpace(text.charAt(k))) {
                return text;
            }
        }
        return text.substring(0, lineFrom);
    }

    /** Whether the whitespace run at {@code from} (what a "-" sign strips) ends with a newline. */
    private static boolean whitespaceRunEndsLine(String template, int from, int limit) {
        int k = Math.min(whitespaceRunEnd(template, from), limit);
        return k > from && template.charAt(k - 1) == '\n';
    }

    private static int whitespaceRunEnd(String text, int from) {
        int k = from;
        while (k < text.length() && PythonStr.isSpace(text.charAt(k))) {
            k++;
        }
        return k;
    }

    private static int nextTag(String template, int from) {
        for (int i = template.indexOf('{', from); i >= 0 && i + 1 < template.length(); i = template.indexOf('{', i + 1)) {
            char c = template.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') {
                return i;
            }
        }
        return -1;
    }

    /**
     * Where {@code closing} ends the tag's code: outside string literals and brackets, as jinja2's lexer reads it
     * ({@code {{ {'a': {'b': 1}} }}} ends at the last braces).
     */
    private static int tagEnd(String template, int from, String closing) {
        int depth = 0;
        for (int i = from; i < template.length(); i++) {
            char c = template.charAt(i);
            if (c == '\'' || c == '"') {
                i = JinjavaExpressionRewriter.literalEnd(template, i);
            } else if (depth == 0 && template.startsWith(closing, i)) {
                return i;
            } else if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
                depth--;
            }
        }
        return -1;
    }

    private static boolean isTag(String code, String... names) {
        Matcher m = TAG_NAME.matcher(code);
        return m.lookingAt() && List.of(names).contains(m.group(1));
    }
}

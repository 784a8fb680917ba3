package io.inferstream.runtime.tokenizer.jinja;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Python's {@code str} methods on Java strings, as CPython defines them: indices count code points, whitespace is
 * {@code str.isspace()}'s, {@code split} keeps empty strings and {@code split()} without a separator splits on
 * whitespace runs, {@code start}/{@code end} bounds are adjusted as CPython adjusts them. A {@code null} bound or
 * separator is Python's {@code None}.
 */
final class PythonStr {

    private PythonStr() {
    }

    /** {@code str.isspace()} of one code point (Java's {@link Character#isWhitespace} leaves out NBSP and NNBSP). */
    static boolean isSpace(int c) {
        return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
    }

    // ---- split / rsplit ------------------------------------------------------------------------------------

    /** {@code s.split(sep, maxsplit)}; a negative maxsplit is no limit. */
    static List<String> split(String s, String sep, long maxsplit) {
        if (sep == null) {
            return splitWhitespace(s, maxsplit);
        }
        requireSeparator(sep);
        List<String> parts = new ArrayList<>();
        int from = 0;
        for (int at; (maxsplit < 0 || parts.size() < maxsplit) && (at = s.indexOf(sep, from)) >= 0; from = at + sep.length()) {
            parts.add(s.substring(from, at));
        }
        parts.add(s.substring(from));
        return parts;
    }

    /** {@code s.rsplit(sep, maxsplit)}: split from the right. */
    static List<String> rsplit(String s, String sep, long maxsplit) {
        if (sep == null) {
            return rsplitWhitespace(s, maxsplit);
        }
        requireSeparator(sep);
        List<String> parts = new ArrayList<>();
        int to = s.length();
        for (int at; (maxsplit < 0 || parts.size() < maxsplit) && to >= sep.length()
                && (at = s.lastIndexOf(sep, to - sep.length())) >= 0; to = at) {
            parts.add(s.substring(at + sep.length(), to));
        }
        parts.add(s.substring(0, to));
        Collections.reverse(parts);
        return parts;
    }

    private static void requireSeparator(String sep) {
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("ValueError: empty separator");
        }
    }

    /** Words between whitespace runs; after maxsplit words the rest, left-stripped, is the last part. */
    private static List<String> splitWhitespace(String s, long maxsplit) {
        List<String> parts = new ArrayList<>();
        int n = s.length();
        int i = 0;
        while (true) {
            while (i < n && isSpace(s.charAt(i))) {
                i++;
            }
            if (i == n) {
                return parts;
            }
            if (maxsplit >= 0 && parts.size() == maxsplit) {
                parts.add(s.substring(i));
                return parts;
            }
            int j = i;
            while (j < n && !isSpace(s.charAt(j))) {
                j++;
            }
            parts.add(s.substring(i, j));
            i = j;
        }
    }

    private static List<String> rsplitWhitespace(String s, long maxsplit) {
        List<String> parts = new ArrayList<>();
        int i = s.length();
        while (true) {
            while (i > 0 && isSpace(s.charAt(i - 1))) {
                i--;
            }
            if (i == 0) {
                break;
            }
            if (maxsplit >= 0 && parts.size() == maxsplit) {
                parts.add(s.substring(0, i));
                break;
            }
            int j = i;
            while (j > 0 && !isSpace(s.charAt(j - 1))) {
                j--;
            }
            parts.add(s.substring(j, i));
            i = j;
        }
        Collections.reverse(parts);
        return parts;
    }

    // ---- strip ---------------------------------------------------------------------------------------------

    /** {@code s.strip(chars)}, {@code lstrip} ({@code right} false) or {@code rstrip} ({@code left} false). */
    static String strip(String s, String chars, boolean left, boolean right) {
        int from = 0;
        int to = s.length();
        while (left && from < to && stripped(s.codePointAt(from), chars)) {
            from += Character.charCount(s.codePointAt(from));
        }
        while (right && to > from && stripped(s.codePointBefore(to), chars)) {
            to -= Character.charCount(s.codePointBefore(to));
        }
        return s.substring(from, to);
    }

    private static boolean stripped(int c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    // ---- search --------------------------------------------------------------------------------------------

    /** CPython's ADJUST_INDICES on code points: [start, end] → char offsets {start, end}, or null when start > end. */
    private static int[] range(String s, Long start, Long end) {
        long n = s.codePointCount(0, s.length());
        long e = end == null ? n : end;
        e = e > n ? n : e < 0 ? Math.max(0, e + n) : e;
        long b = start == null ? 0 : start;
        b = b < 0 ? Math.max(0, b + n) : b;
        if (b > e) {
            return null;
        }
        return new int[] {s.offsetByCodePoints(0, (int) b), s.offsetByCodePoints(0, (int) e)};
    }

    /** {@code s.find(sub, start, end)} ({@code last}: rfind): a code-point index, or -1. */
    static long find(String s, String sub, Long start, Long end, boolean last) {
        int[] r = range(s, start, end);
        if (r == null || r[1] - r[0] < sub.length()) {
            return -1;
        }
        String window = s.substring(r[0], r[1]);
        int at = last ? window.lastIndexOf(sub) : window.indexOf(sub);
        return at < 0 ? -1 : s.codePointCount(0, r[0] + at);
    }

    /** {@code s.count(sub, start, end)}: non-overlapping occurrences; the empty string occurs between code points. */
    static long count(String s, String sub, Long start, Long end) {
        int[] r = range(s, start, end);
        if (r == null) {
            return 0;
        }
        String window = s.substring(r[0], r[1]);
        if (sub.isEmpty()) {
            return window.codePointCount(0, window.length()) + 1;
        }
        long count = 0;
        for (int at = window.indexOf(sub); at >= 0; at = window.indexOf(sub, at + sub.length())) {
            count++;
        }
        return count;
    }

    /** {@code s.startswith(prefix, start, end)} ({@code atEnd}: endswith) for one prefix (CPython's tailmatch). */
    static boolean tailMatch(String s, String affix, Long start, Long end, boolean atEnd) {
        int[] r = range(s, start, end);
        if (r == null || r[1] - r[0] < affix.length()) {
            return false;
        }
        return atEnd ? s.startsWith(affix, r[1] - affix.length()) : s.startsWith(affix, r[0]);
    }

    // ---- replace / join ------------------------------------------------------------------------------------

    /** {@code s.replace(old, new, count)}; a negative count replaces all; an empty old inserts between code points. */
    static String replace(String s, String old, String replacement, long count) {
        StringBuilder sb = new StringBuilder();
        long done = 0;
        if (old.isEmpty()) {
            int i = 0;
            for (; i < s.length() && (count < 0 || done < count); i += Character.charCount(s.codePointAt(i)), done++) {
                sb.append(replacement).appendCodePoint(s.codePointAt(i));
            }
            if (i == s.length() && (count < 0 || done < count)) {
                sb.append(replacement);
            }
            return sb.append(s, i, s.length()).toString();
        }
        int from = 0;
        for (int at; (count < 0 || done < count) && (at = s.indexOf(old, from)) >= 0; from = at + old.length(), done++) {
            sb.append(s, from, at).append(replacement);
        }
        return sb.append(s, from, s.length()).toString();
    }

    // ---- case ----------------------------------------------------------------------------------------------

    static String upper(String s) {
        return s.toUpperCase(Locale.ROOT);
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    /** Title case after each uncased character, lower case after a cased one ("they're" → "They'Re", as Python). */
    static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            sb.append(previousCased ? lower(new String(Character.toChars(c))) : titleOf(c));
            previousCased = isCased(c);
            i += Character.charCount(c);
        }
        return sb.toString();
    }

    /** The first code point in title case, the rest in lower case (Python 3.8+). */
    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int first = s.codePointAt(0);
        return titleOf(first) + lower(s.substring(Character.charCount(first)));
    }

    private static String titleOf(int c) {
        int title = Character.toTitleCase(c);
        if (title != c) {
            return new String(Character.toChars(title));
        }
        // no simple title mapping: the full upper-case mapping's first letter, then the rest in lower case (ß → Ss)
        String upper = upper(new String(Character.toChars(c)));
        int first = upper.codePointAt(0);
        return new String(Character.toChars(first)) + lower(upper.substring(Character.charCount(first)));
    }

    private static boolean isCased(int c) {
        return Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
    }

    // ---- predicates (false for the empty string, as Python's) ------------------------------------------------

    static boolean isDigit(String s) {
        return all(s, c -> Character.getType(c) == Character.DECIMAL_DIGIT_NUMBER
                || (Character.getType(c) == Character.OTHER_NUMBER && Character.getNumericValue(c) >= 0
                        && Character.getNumericValue(c) <= 9));
    }

    static boolean isAlpha(String s) {
        return all(s, Character::isLetter);
    }

    static boolean isAlnum(String s) {
        return all(s, c -> Character.isLetter(c) || Character.getType(c) == Character.DECIMAL_DIGIT_NUMBER
                || Character.getType(c) == Character.LETTER_NUMBER || Character.getType(c) == Character.OTHER_NUMBER);
    }

    static boolean isSpace(String s) {
        return all(s, PythonStr::isSpace);
    }

    /** At least one upper-case letter and no lower- or title-case one. */
    static boolean isUpper(String s) {
        return s.codePoints().anyMatch(Character::isUpperCase)
                && s.codePoints().noneMatch(c -> Character.isLowerCase(c) || Character.isTitleCase(c));
    }

    /** At least one lower-case letter and no upper- or title-case one. */
    static boolean isLower(String s) {
        return s.codePoints().anyMatch(Character::isLowerCase)
                && s.codePoints().noneMatch(c -> Character.isUpperCase(c) || Character.isTitleCase(c));
    }

    private static boolean all(String s, java.util.function.IntPredicate p) {
        return !s.isEmpty() && s.codePoints().allMatch(p);
    }
}

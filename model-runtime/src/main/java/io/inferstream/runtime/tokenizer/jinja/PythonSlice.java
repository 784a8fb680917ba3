package io.inferstream.runtime.tokenizer.jinja;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * {@code sequence[start:stop:step]} with Python's semantics, for the subscripts with a step that Jinjava's parser
 * cannot read ({@link JinjavaExpressionRewriter} turns them into calls of this): negative bounds count from the end,
 * out-of-range bounds are clamped, a negative step walks backwards, {@code None} is an omitted part. Lists (and
 * tuples, which Jinjava makes lists) give lists; strings give strings, sliced by code point.
 */
public final class PythonSlice {

    /** The template function that {@link JinjavaExpressionRewriter} calls. */
    public static final String FUNCTION = "__py_slice__";

    private PythonSlice() {
    }

    /** Called by templates through {@link #FUNCTION}. */
    public static Object slice(Object sequence, Object start, Object stop, Object step) {
        long by = step == null ? 1 : index(step);
        if (by == 0) {
            throw new IllegalArgumentException("ValueError: slice step cannot be zero");
        }
        if (sequence instanceof String s) {
            int[] codePoints = s.codePoints().toArray();
            StringBuilder sb = new StringBuilder();
            for (int i : positions(codePoints.length, start, stop, by)) {
                sb.appendCodePoint(codePoints[i]);
            }
            return sb.toString();
        }
        List<?> items = sequence instanceof List<?> list ? list
                : sequence instanceof Collection<?> c ? new ArrayList<>(c)
                : sequence instanceof Object[] array ? Arrays.asList(array)
                : null;
        if (items == null) {
            throw new IllegalArgumentException("TypeError: '" + (sequence == null ? "NoneType" : sequence.getClass().getSimpleName())
                    + "' object is not subscriptable with a slice");
        }
        List<Object> out = new ArrayList<>();
        for (int i : positions(items.size(), start, stop, by)) {
            out.add(items.get(i));
        }
        return out;
    }

    /** The indices a slice visits in a sequence of {@code length}, as CPython's PySlice_AdjustIndices bounds them. */
    static int[] positions(int length, Object start, Object stop, long step) {
        long from = start == null ? (step > 0 ? 0 : length - 1) : bound(index(start), length, step);
        long to = stop == null ? (step > 0 ? length : -1) : bound(index(stop), length, step);
        int count = step > 0 ? (from < to ? (int) ((to - from - 1) / step + 1) : 0)
                : (to < from ? (int) ((from - to - 1) / -step + 1) : 0);
        int[] positions = new int[count];
        for (int k = 0; k < count; k++) {
            positions[k] = (int) (from + k * step);
        }
        return positions;
    }

    /** A given bound: negative counts from the end; clamped to [0, length] going forward, [-1, length - 1] backward. */
    private static long bound(long i, int length, long step) {
        if (i < 0) {
            i += length;
            if (i < 0) {
                return step < 0 ? -1 : 0;
            }
        } else if (i >= length) {
            return step < 0 ? length - 1 : length;
        }
        return i;
    }

    private static long index(Object value) {
        if (value instanceof Long || value instanceof Integer || value instanceof Short || value instanceof Byte) {
            return ((Number) value).longValue();
        }
        if (value instanceof BigInteger b) {
            return b.max(BigInteger.valueOf(Integer.MIN_VALUE)).min(BigInteger.valueOf(Integer.MAX_VALUE)).longValue();
        }
        throw new IllegalArgumentException("TypeError: slice indices must be integers or None");
    }
}

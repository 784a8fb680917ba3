package io.inferstream.runtime.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A matrix that is rows [first, end) of a stored tensor: Phi-3's Q, K and V of {@code attn_qkv} / {@code qkv_proj},
 * its gate and up of the double-height {@code ffn_up} / {@code gate_up_proj}. The loaders name such a matrix
 * {@code tensor[first..end)}, so that what holds the files (a checkpoint, for a GPU upload) can hand out its bytes.
 *
 * @param tensor the stored tensor's name
 * @param first  its first row in the view
 * @param end    the row after the view's last
 */
public record RowView(String tensor, long first, long end) {

    public RowView {
        if (first < 0 || end <= first) {
            throw new IllegalArgumentException("rows " + first + ".." + end + " of " + tensor + ": expected first < end");
        }
    }

    /** The name a loader gives the view. */
    public String name() {
        return tensor + "[" + first + ".." + end + ")";
    }

    /** The view a matrix name describes, or null for a name of a whole tensor. */
    public static RowView parse(String name) {
        int open = name.lastIndexOf('[');
        int dots = name.indexOf("..", open + 1);
        if (open <= 0 || dots < 0 || !name.endsWith(")")) {
            return null;
        }
        try {
            return new RowView(name.substring(0, open), Long.parseLong(name.substring(open + 1, dots)),
                    Long.parseLong(name.substring(dots + 2, name.length() - 1)));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** The view's bytes within {@code whole}, the stored tensor's data of {@code rows} rows, little-endian. */
    public ByteBuffer slice(ByteBuffer whole, long rows) {
        if (end > rows || whole.remaining() % rows != 0) {
            throw new IllegalArgumentException("rows " + first + ".." + end + " of tensor " + tensor + ", which has " + rows
                    + " rows of " + whole.remaining() + " bytes in all");
        }
        long rowBytes = whole.remaining() / rows;
        return whole.slice(whole.position() + Math.toIntExact(first * rowBytes), Math.toIntExact((end - first) * rowBytes))
                .order(ByteOrder.LITTLE_ENDIAN);
    }
}

package io.inferstream.runtime.hub;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.function.LongConsumer;
import java.net.http.HttpResponse;

/**
 * Streams a response body into the {@code .part} file: appended after the bytes already there (a 206
 * answer to our Range request) or from zero (a 200). Records when data last arrived so the downloader
 * can detect a stalled transfer, which the HTTP client's own timeout (headers only) does not cover.
 */
final class PartFileWriter implements HttpResponse.BodySubscriber<Long> {

    /** Writing the part file failed: a local problem (disk full, permissions), not worth retrying. */
    static final class LocalWriteException extends IOException {
        private static final long serialVersionUID = 1L;

        LocalWriteException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final Path part;
    private final boolean append;
    private final long offset;
    private final LongConsumer progress;
    private final CompletableFuture<Long> result = new CompletableFuture<>();

    private Flow.Subscription subscription;
    private FileChannel channel;
    private long written;
    private boolean aborted;
    private volatile long lastDataNanos = System.nanoTime();

    /**
     * @param append   keep the {@code offset} bytes already in the part file and write after them
     * @param progress told the number of bytes of the file present after each chunk
     */
    PartFileWriter(Path part, boolean append, long offset, LongConsumer progress) {
        this.part = part;
        this.append = append;
        this.offset = append ? offset : 0;
        this.progress = progress;
    }

    long lastDataNanos() {
        return lastDataNanos;
    }

    @Override
    public CompletionStage<Long> getBody() {
        return result;
    }

    @Override
    public synchronized void onSubscribe(Flow.Subscription s) {
        subscription = s;
        if (aborted) {
            s.cancel();
            return;
        }
        try {
            channel = append
                    ? FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)
                    : FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                            StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            s.cancel();
            result.completeExceptionally(new LocalWriteException("Cannot write " + part + ": " + e, e));
            return;
        }
        s.request(1);
    }

    @Override
    public synchronized void onNext(List<ByteBuffer> items) {
        if (aborted || channel == null) {
            return;
        }
        try {
            for (ByteBuffer b : items) {
                while (b.hasRemaining()) {
                    written += channel.write(b);
                }
            }
        } catch (IOException e) {
            subscription.cancel();
            closeChannel();
            result.completeExceptionally(new LocalWriteException("Cannot write " + part + ": " + e, e));
            return;
        }
        lastDataNanos = System.nanoTime();
        progress.accept(offset + written);
        subscription.request(1);
    }

    @Override
    public synchronized void onError(Throwable t) {
        closeChannel();
        result.completeExceptionally(t);
    }

    @Override
    public synchronized void onComplete() {
        try {
            if (channel != null) {
                channel.close();
            }
            result.complete(written);
        } catch (IOException e) {
            result.completeExceptionally(new LocalWriteException("Cannot write " + part + ": " + e, e));
        }
    }

    /** Stops the transfer (a stall): no further byte reaches the part file after this returns. */
    synchronized void abort() {
        aborted = true;
        if (subscription != null) {
            subscription.cancel();
        }
        closeChannel();
        result.completeExceptionally(new IOException("transfer aborted"));
    }

    private void closeChannel() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // the part file is verified by size and checksum before use; nothing to recover here
            }
            channel = null;
        }
    }
}

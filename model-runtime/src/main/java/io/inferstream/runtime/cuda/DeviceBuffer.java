package io.inferstream.runtime.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD8;

import java.nio.ByteBuffer;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;

/** One device allocation (cuMemAlloc), freed by {@link #close}. Copies are synchronous. */
public final class DeviceBuffer implements AutoCloseable {

    private final CUdeviceptr pointer = new CUdeviceptr();
    private final long bytes;
    private boolean freed;

    private DeviceBuffer(long bytes) {
        this.bytes = bytes;
    }

    /** Allocates {@code bytes} (at least 1) of device memory, zeroed. */
    public static DeviceBuffer allocate(long bytes, String what) {
        DeviceBuffer b = new DeviceBuffer(Math.max(bytes, 1));
        try {
            cuMemAlloc(b.pointer, b.bytes);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot allocate " + MemoryPlan.gib(b.bytes) + " of device memory for "
                    + what + ": " + e.getMessage(), e);
        }
        synchronized (ContextLock.current()) {
            synchronized (ContextLock.current()) {
                cuMemsetD8(b.pointer, (byte) 0, b.bytes);
            }
        }
        return b;
    }

    public CUdeviceptr pointer() {
        return pointer;
    }

    /** A pointer {@code byteOffset} bytes into the buffer. */
    public CUdeviceptr at(long byteOffset) {
        return pointer.withByteOffset(byteOffset);
    }

    public long bytes() {
        return bytes;
    }

    public void upload(float[] src, int count) {
        check((long) count * Sizeof.FLOAT);
        synchronized (ContextLock.current()) {
            cuMemcpyHtoD(pointer, Pointer.to(src), (long) count * Sizeof.FLOAT);
        }
    }

    public void upload(int[] src, int count) {
        check((long) count * Sizeof.INT);
        synchronized (ContextLock.current()) {
            cuMemcpyHtoD(pointer, Pointer.to(src), (long) count * Sizeof.INT);
        }
    }

    public void upload(short[] src) {
        check((long) src.length * Sizeof.SHORT);
        synchronized (ContextLock.current()) {
            cuMemcpyHtoD(pointer, Pointer.to(src), (long) src.length * Sizeof.SHORT);
        }
    }

    /** Copies {@code src} to {@code byteOffset} bytes into the buffer (one expert of a [count, rows, cols] stack). */
    public void uploadAt(short[] src, long byteOffset) {
        checkAt(byteOffset, (long) src.length * Sizeof.SHORT);
        synchronized (ContextLock.current()) {
            cuMemcpyHtoD(at(byteOffset), Pointer.to(src), (long) src.length * Sizeof.SHORT);
        }
    }

    /** Copies {@code src} to {@code byteOffset} bytes into the buffer. */
    public void uploadAt(byte[] src, long byteOffset) {
        checkAt(byteOffset, src.length);
        synchronized (ContextLock.current()) {
            cuMemcpyHtoD(at(byteOffset), Pointer.to(src), src.length);
        }
    }

    /** Copies {@code src} (all of it) to {@code byteOffset} bytes into the buffer. */
    public void uploadAt(float[] src, long byteOffset) {
        checkAt(byteOffset, (long) src.length * Sizeof.FLOAT);
        synchronized (ContextLock.current()) {
            cuMemcpyHtoD(at(byteOffset), Pointer.to(src), (long) src.length * Sizeof.FLOAT);
        }
    }

    private void checkAt(long byteOffset, long n) {
        check(0);
        if (byteOffset < 0 || byteOffset + n > bytes) {
            throw new IllegalArgumentException("copy of " + n + " bytes at offset " + byteOffset + " into a device buffer of " + bytes);
        }
    }

    public void upload(byte[] src) {
        check(src.length);
        synchronized (ContextLock.current()) {
            cuMemcpyHtoD(pointer, Pointer.to(src), src.length);
        }
    }

    /** Copies {@code count} bytes from {@code src}'s position (a direct or heap buffer). */
    public void upload(ByteBuffer src, long count) {
        check(count);
        ByteBuffer s = src.slice();
        if (s.isDirect()) {
            synchronized (ContextLock.current()) {
                cuMemcpyHtoD(pointer, Pointer.to(s), count);
            }
        } else {
            byte[] copy = new byte[(int) count];
            s.get(copy);
            synchronized (ContextLock.current()) {
                cuMemcpyHtoD(pointer, Pointer.to(copy), count);
            }
        }
    }

    public void download(float[] dst, int count) {
        check((long) count * Sizeof.FLOAT);
        synchronized (ContextLock.current()) {
            cuMemcpyDtoH(Pointer.to(dst), pointer, (long) count * Sizeof.FLOAT);
        }
    }

    /** Copies {@code count} floats starting {@code srcOffset} floats into the buffer. */
    public void download(float[] dst, long srcOffset, int count) {
        check((srcOffset + count) * Sizeof.FLOAT);
        synchronized (ContextLock.current()) {
            cuMemcpyDtoH(Pointer.to(dst), pointer.withByteOffset(srcOffset * Sizeof.FLOAT), (long) count * Sizeof.FLOAT);
        }
    }

    public void download(int[] dst, int count) {
        check((long) count * Sizeof.INT);
        synchronized (ContextLock.current()) {
            cuMemcpyDtoH(Pointer.to(dst), pointer, (long) count * Sizeof.INT);
        }
    }

    public void download(short[] dst, int count) {
        check((long) count * Sizeof.SHORT);
        synchronized (ContextLock.current()) {
            cuMemcpyDtoH(Pointer.to(dst), pointer, (long) count * Sizeof.SHORT);
        }
    }

    /** Every byte set to 0xFF (NaN floats, NaN halves, -1 ints): what a check writes before a kernel should overwrite it. */
    public void poison() {
        check(0);
        synchronized (ContextLock.current()) {
            cuMemsetD8(pointer, (byte) 0xFF, bytes);
        }
    }

    private void check(long n) {
        if (freed) {
            throw new IllegalStateException("device buffer already freed");
        }
        if (n > bytes) {
            throw new IllegalArgumentException("copy of " + n + " bytes into a device buffer of " + bytes);
        }
    }

    @Override
    public void close() {
        if (!freed) {
            freed = true;
            cuMemFree(pointer);
        }
    }
}

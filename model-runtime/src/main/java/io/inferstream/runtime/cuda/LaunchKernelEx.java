package io.inferstream.runtime.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import jcuda.NativePointerObject;
import jcuda.driver.CUresult;

/**
 * {@link ProgrammaticLaunch} as one {@code cuLaunchKernelEx} per launch, its structs laid out as cuda.h lays them out on
 * x86-64 and aarch64 Linux (ProgrammaticLaunchAbiTest compiles cuda.h to check): CUlaunchConfig {6 x uint grid/block
 * dims, uint sharedMemBytes, CUstream at 32, CUlaunchAttribute* at 40, uint numAttrs at 48; 56 bytes},
 * CUlaunchAttribute {int id, 4 bytes padding, a 64-byte value union; 72 bytes},
 * CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6 with value.programmaticStreamSerializationAllowed (int at
 * 0) = 1. One native scratch area, reused by every launch (synchronized: models on one device share the kernels).
 */
final class LaunchKernelEx implements ProgrammaticLaunch {

    static final int PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    private static final int ATTRIBUTE_BYTES = 72;
    private static final int MAX_ARGS = 64;
    private static final int ATTRIBUTE = 64; // offsets in the scratch area
    private static final int PARAMS = 256;
    private static final int VALUES = PARAMS + 8 * MAX_ARGS;

    private final LaunchDowncall driver;
    private final ByteBuffer scratch;
    private final long base;

    LaunchKernelEx(LaunchDowncall driver) {
        this.driver = driver;
        LaunchDowncall.NativeArea area = driver.allocate(VALUES + 8 * MAX_ARGS);
        this.scratch = area.bytes().order(ByteOrder.nativeOrder());
        this.base = area.address();
    }

    @Override
    public synchronized void launch(long function, int gridX, int gridY, int block, int sharedBytes, long stream, Object[] args) {
        if (args.length > MAX_ARGS) {
            throw new IllegalArgumentException("at most " + MAX_ARGS + " kernel arguments, got " + args.length);
        }
        ByteBuffer s = scratch;
        s.putInt(0, gridX).putInt(4, gridY).putInt(8, 1);
        s.putInt(12, block).putInt(16, 1).putInt(20, 1);
        s.putInt(24, sharedBytes).putInt(28, 0);
        s.putLong(32, stream);
        s.putLong(40, base + ATTRIBUTE);
        s.putLong(48, 1); // numAttrs, then 4 bytes of padding
        for (int i = 0; i < ATTRIBUTE_BYTES; i += 8) {
            s.putLong(ATTRIBUTE + i, 0);
        }
        s.putInt(ATTRIBUTE, PROGRAMMATIC_STREAM_SERIALIZATION);
        s.putInt(ATTRIBUTE + 8, 1);
        for (int i = 0; i < args.length; i++) {
            int value = VALUES + 8 * i;
            Object a = args[i];
            if (a == null) {
                s.putLong(value, 0);
            } else if (a instanceof DeviceBuffer b) {
                s.putLong(value, NativeHandles.address(b.pointer()));
            } else if (a instanceof NativePointerObject p) {
                s.putLong(value, NativeHandles.address(p));
            } else if (a instanceof Integer v) {
                s.putInt(value, v);
            } else if (a instanceof Long v) {
                s.putLong(value, v);
            } else if (a instanceof Float v) {
                s.putFloat(value, v);
            } else {
                throw new IllegalArgumentException("argument " + i + " of type " + a.getClass().getName()
                        + " cannot be passed to a kernel");
            }
            s.putLong(PARAMS + 8 * i, base + value);
        }
        int result;
        try {
            synchronized (ContextLock.current()) {
                result = driver.launchKernelEx(base, function, base + PARAMS, 0);
            }
        } catch (Throwable t) {
            throw new IllegalStateException("cuLaunchKernelEx could not be called", t);
        }
        if (result != CUresult.CUDA_SUCCESS) {
            throw new jcuda.CudaException("cuLaunchKernelEx (programmatic launch) failed: " + CUresult.stringFor(result));
        }
    }
}

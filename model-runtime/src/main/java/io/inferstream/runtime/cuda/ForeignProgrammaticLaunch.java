package io.inferstream.runtime.cuda;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.Optional;

import jcuda.NativePointerObject;
import jcuda.driver.CUresult;
import jdk.incubator.foreign.CLinker;
import jdk.incubator.foreign.FunctionDescriptor;
import jdk.incubator.foreign.MemoryAccess;
import jdk.incubator.foreign.MemoryAddress;
import jdk.incubator.foreign.MemorySegment;
import jdk.incubator.foreign.ResourceScope;
import jdk.incubator.foreign.SymbolLookup;

/**
 * {@link ProgrammaticLaunch} through jdk.incubator.foreign (Java 17): one downcall to
 * {@code CUresult cuLaunchKernelEx(const CUlaunchConfig*, CUfunction, void** kernelParams, void** extra)} per launch,
 * its structs laid out as cuda.h lays them out on x86-64 and aarch64 Linux (ProgrammaticLaunchAbiTest compiles cuda.h
 * to check): CUlaunchConfig {6 x uint grid/block dims, uint sharedMemBytes, CUstream at 32, CUlaunchAttribute* at
 * 40, uint numAttrs at 48; 56 bytes}, CUlaunchAttribute {int id, 4 bytes padding, a 64-byte value union; 72 bytes},
 * CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6 with value.programmaticStreamSerializationAllowed (int at
 * 0) = 1. One native scratch area, reused by every launch (synchronized: models on one device share the kernels).
 */
final class ForeignProgrammaticLaunch implements ProgrammaticLaunch {

    static final int CONFIG_BYTES = 56;
    static final int ATTRIBUTE_BYTES = 72;
    static final int PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    private static final int MAX_ARGS = 64;
    private static final long ATTRIBUTE = 64; // offsets in the scratch area
    private static final long PARAMS = 256;
    private static final long VALUES = PARAMS + 8L * MAX_ARGS;
    private static final int RTLD_NOW = 2; // dlfcn.h on Linux

    private final MethodHandle launchKernelEx;
    private final MemorySegment scratch = MemorySegment.allocateNative(VALUES + 8L * MAX_ARGS, 16, ResourceScope.globalScope());

    ForeignProgrammaticLaunch(Path library) {
        MemoryAddress symbol = lookUp(library, "cuLaunchKernelEx")
                .orElseThrow(() -> new IllegalStateException(library + " exports no cuLaunchKernelEx (a CUDA driver before 11.8)"));
        launchKernelEx = CLinker.getInstance().downcallHandle(symbol,
                MethodType.methodType(int.class, MemoryAddress.class, MemoryAddress.class, MemoryAddress.class, MemoryAddress.class),
                FunctionDescriptor.of(CLinker.C_INT, CLinker.C_POINTER, CLinker.C_POINTER, CLinker.C_POINTER, CLinker.C_POINTER));
    }

    /**
     * {@code name} in {@code library}, through the C library's dlopen and dlsym. Not System.load: the JVM binds a library
     * loaded that way to the caller's class loader and refuses it to every other one, so only the first Flink job on a
     * TaskManager (each job has a class loader of its own) could launch programmatically. System.load only where the C
     * library does not export dlopen (glibc before 2.34 keeps it in libdl).
     */
    private static Optional<MemoryAddress> lookUp(Path library, String name) {
        SymbolLookup libc = CLinker.systemLookup();
        Optional<MemoryAddress> dlopen = libc.lookup("dlopen");
        Optional<MemoryAddress> dlsym = libc.lookup("dlsym");
        if (dlopen.isEmpty() || dlsym.isEmpty()) {
            System.load(library.toAbsolutePath().toString());
            return SymbolLookup.loaderLookup().lookup(name);
        }
        CLinker c = CLinker.getInstance();
        MethodHandle open = c.downcallHandle(dlopen.get(), MethodType.methodType(MemoryAddress.class, MemoryAddress.class, int.class),
                FunctionDescriptor.of(CLinker.C_POINTER, CLinker.C_POINTER, CLinker.C_INT));
        MethodHandle sym = c.downcallHandle(dlsym.get(), MethodType.methodType(MemoryAddress.class, MemoryAddress.class, MemoryAddress.class),
                FunctionDescriptor.of(CLinker.C_POINTER, CLinker.C_POINTER, CLinker.C_POINTER));
        try (ResourceScope scope = ResourceScope.newConfinedScope()) {
            // never closed: the driver stays mapped for the process's life anyway
            MemoryAddress handle = (MemoryAddress) open.invokeExact(
                    CLinker.toCString(library.toAbsolutePath().toString(), scope).address(), RTLD_NOW);
            if (handle.equals(MemoryAddress.NULL)) {
                throw new IllegalStateException("dlopen(" + library + ") failed");
            }
            MemoryAddress symbol = (MemoryAddress) sym.invokeExact(handle, CLinker.toCString(name, scope).address());
            return symbol.equals(MemoryAddress.NULL) ? Optional.empty() : Optional.of(symbol);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void launch(long function, int gridX, int gridY, int block, int sharedBytes, long stream, Object[] args) {
        if (args.length > MAX_ARGS) {
            throw new IllegalArgumentException("at most " + MAX_ARGS + " kernel arguments, got " + args.length);
        }
        MemorySegment s = scratch;
        MemoryAccess.setIntAtOffset(s, 0, gridX);
        MemoryAccess.setIntAtOffset(s, 4, gridY);
        MemoryAccess.setIntAtOffset(s, 8, 1);
        MemoryAccess.setIntAtOffset(s, 12, block);
        MemoryAccess.setIntAtOffset(s, 16, 1);
        MemoryAccess.setIntAtOffset(s, 20, 1);
        MemoryAccess.setIntAtOffset(s, 24, sharedBytes);
        MemoryAccess.setIntAtOffset(s, 28, 0);
        MemoryAccess.setLongAtOffset(s, 32, stream);
        MemoryAccess.setLongAtOffset(s, 40, s.address().toRawLongValue() + ATTRIBUTE);
        MemoryAccess.setLongAtOffset(s, 48, 1); // numAttrs, then 4 bytes of padding
        s.asSlice(ATTRIBUTE, ATTRIBUTE_BYTES).fill((byte) 0);
        MemoryAccess.setIntAtOffset(s, ATTRIBUTE, PROGRAMMATIC_STREAM_SERIALIZATION);
        MemoryAccess.setIntAtOffset(s, ATTRIBUTE + 8, 1);
        long base = s.address().toRawLongValue();
        for (int i = 0; i < args.length; i++) {
            long value = VALUES + 8L * i;
            Object a = args[i];
            if (a == null) {
                MemoryAccess.setLongAtOffset(s, value, 0);
            } else if (a instanceof DeviceBuffer b) {
                MemoryAccess.setLongAtOffset(s, value, NativeHandles.address(b.pointer()));
            } else if (a instanceof NativePointerObject p) {
                MemoryAccess.setLongAtOffset(s, value, NativeHandles.address(p));
            } else if (a instanceof Integer v) {
                MemoryAccess.setIntAtOffset(s, value, v);
            } else if (a instanceof Long v) {
                MemoryAccess.setLongAtOffset(s, value, v);
            } else if (a instanceof Float v) {
                MemoryAccess.setFloatAtOffset(s, value, v);
            } else {
                throw new IllegalArgumentException("argument " + i + " of type " + a.getClass().getName()
                        + " cannot be passed to a kernel");
            }
            MemoryAccess.setLongAtOffset(s, PARAMS + 8L * i, base + value);
        }
        int result;
        try {
            synchronized (ContextLock.current()) {
                result = (int) launchKernelEx.invokeExact(s.address(), MemoryAddress.ofLong(function), s.address().addOffset(PARAMS),
                        MemoryAddress.NULL);
            }
        } catch (Throwable t) {
            throw new IllegalStateException("cuLaunchKernelEx could not be called", t);
        }
        if (result != CUresult.CUDA_SUCCESS) {
            throw new jcuda.CudaException("cuLaunchKernelEx (programmatic launch) failed: " + CUresult.stringFor(result));
        }
    }
}

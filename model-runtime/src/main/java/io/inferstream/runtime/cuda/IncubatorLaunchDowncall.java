package io.inferstream.runtime.cuda;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.Optional;

import jdk.incubator.foreign.CLinker;
import jdk.incubator.foreign.FunctionDescriptor;
import jdk.incubator.foreign.MemoryAddress;
import jdk.incubator.foreign.MemorySegment;
import jdk.incubator.foreign.ResourceScope;
import jdk.incubator.foreign.SymbolLookup;

/**
 * cuLaunchKernelEx through jdk.incubator.foreign, Java 17's incubating foreign-function API (the JVM needs
 * {@link ProgrammaticLaunch#INCUBATOR_FLAGS}; Java 18 and 19 changed the API, and the call then fails to link).
 */
final class IncubatorLaunchDowncall implements LaunchDowncall {

    private static final int RTLD_NOW = 2; // dlfcn.h on Linux

    private final MethodHandle launchKernelEx;

    IncubatorLaunchDowncall(Path library) {
        MemoryAddress symbol = lookUp(library, "cuLaunchKernelEx")
                .orElseThrow(() -> new IllegalStateException(library + " exports no cuLaunchKernelEx (a CUDA driver before 11.8)"));
        launchKernelEx = CLinker.getInstance().downcallHandle(symbol,
                MethodType.methodType(int.class, MemoryAddress.class, MemoryAddress.class, MemoryAddress.class, MemoryAddress.class),
                FunctionDescriptor.of(CLinker.C_INT, CLinker.C_POINTER, CLinker.C_POINTER, CLinker.C_POINTER, CLinker.C_POINTER));
    }

    @Override
    public NativeArea allocate(int bytes) {
        MemorySegment area = MemorySegment.allocateNative(bytes, 16, ResourceScope.globalScope());
        return new NativeArea(area.asByteBuffer(), area.address().toRawLongValue());
    }

    @Override
    public int launchKernelEx(long config, long function, long kernelParams, long extra) throws Throwable {
        return (int) launchKernelEx.invokeExact(MemoryAddress.ofLong(config), MemoryAddress.ofLong(function),
                MemoryAddress.ofLong(kernelParams), MemoryAddress.ofLong(extra));
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
}

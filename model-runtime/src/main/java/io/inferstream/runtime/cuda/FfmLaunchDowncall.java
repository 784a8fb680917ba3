package io.inferstream.runtime.cuda;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;

/**
 * cuLaunchKernelEx through java.lang.foreign (Java 21 on; a preview there, final from 22), for the Javas that no longer
 * have Java 17's incubator. The bytecode stays Java 17's, so the API is reached by reflection, once, at construction;
 * what a launch calls is a plain downcall handle of type (long, long, long, long)int: on the Linux ABIs an address
 * travels in the same register as a 64-bit integer. The library is opened with SymbolLookup.libraryLookup (dlopen),
 * which, unlike System.load, does not bind it to a class loader, so every Flink job on a TaskManager can launch.
 * Restricted methods: the JVM warns unless started with {@code --enable-native-access=ALL-UNNAMED}, and refuses under
 * {@code --illegal-native-access=deny} (IllegalCallerException).
 */
final class FfmLaunchDowncall implements LaunchDowncall {

    private final Api api;
    private final MethodHandle launchKernelEx;

    FfmLaunchDowncall(Path library) {
        api = new Api();
        Object lookup = api.call(api.libraryLookup, null, library, api.arena);
        Optional<?> symbol = (Optional<?>) api.call(api.find, lookup, "cuLaunchKernelEx");
        if (symbol.isEmpty()) {
            throw new IllegalStateException(library + " exports no cuLaunchKernelEx (a CUDA driver before 11.8)");
        }
        Object[] longs = (Object[]) Array.newInstance(api.layout, 4);
        java.util.Arrays.fill(longs, api.javaLong);
        Object descriptor = api.call(api.descriptorOf, null, api.javaInt, longs);
        launchKernelEx = (MethodHandle) api.call(api.downcallHandle, api.linker, symbol.get(), descriptor,
                Array.newInstance(api.option, 0));
    }

    @Override
    public NativeArea allocate(int bytes) {
        Object segment = api.call(api.allocate, api.arena, (long) bytes, 16L);
        return new NativeArea((ByteBuffer) api.call(api.asByteBuffer, segment), (long) api.call(api.address, segment));
    }

    @Override
    public int launchKernelEx(long config, long function, long kernelParams, long extra) throws Throwable {
        return (int) launchKernelEx.invokeExact(config, function, kernelParams, extra);
    }

    /** The few members of java.lang.foreign used here, found by name (the same in Java 21 and in 22 on). */
    private static final class Api {
        final Class<?> layout = type("MemoryLayout");
        final Class<?> option = type("Linker$Option");
        final Method libraryLookup;
        final Method find;
        final Method descriptorOf;
        final Method downcallHandle;
        final Method allocate;
        final Method asByteBuffer;
        final Method address;
        final Object linker;
        final Object arena;
        final Object javaInt;
        final Object javaLong;

        Api() {
            Class<?> linkerType = type("Linker");
            Class<?> segment = type("MemorySegment");
            Class<?> descriptor = type("FunctionDescriptor");
            Class<?> arenaType = type("Arena");
            Class<?> valueLayout = type("ValueLayout");
            try {
                libraryLookup = type("SymbolLookup").getMethod("libraryLookup", Path.class, arenaType);
                find = type("SymbolLookup").getMethod("find", String.class);
                descriptorOf = descriptor.getMethod("of", layout, layout.arrayType());
                downcallHandle = linkerType.getMethod("downcallHandle", segment, descriptor, option.arrayType());
                allocate = arenaType.getMethod("allocate", long.class, long.class);
                asByteBuffer = segment.getMethod("asByteBuffer");
                address = segment.getMethod("address");
                javaInt = valueLayout.getField("JAVA_INT").get(null);
                javaLong = valueLayout.getField("JAVA_LONG").get(null);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("java.lang.foreign of Java " + Runtime.version().feature()
                        + " lacks what Java 21 has: " + e, e);
            }
            linker = call(method(linkerType, "nativeLinker"), null);
            arena = call(method(arenaType, "global"), null); // never closed: the driver and the scratch area live as long as the process
        }

        private static Class<?> type(String name) {
            try {
                return Class.forName("java.lang.foreign." + name);
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException("Java " + Runtime.version().feature() + " has no java.lang.foreign." + name, e);
            }
        }

        private static Method method(Class<?> owner, String name) {
            try {
                return owner.getMethod(name);
            } catch (NoSuchMethodException e) {
                throw new IllegalStateException("java.lang.foreign of Java " + Runtime.version().feature()
                        + " lacks what Java 21 has: " + e, e);
            }
        }

        /** {@code m} on {@code target}, rethrowing what it threw (an IllegalCallerException for denied native access). */
        Object call(Method m, Object target, Object... args) {
            try {
                return m.invoke(target, args);
            } catch (InvocationTargetException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException(m + " failed", e.getCause());
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(m + " is not accessible", e);
            }
        }
    }
}

package io.inferstream.runtime.cuda;

import java.lang.reflect.Method;

import jcuda.NativePointerObject;
import jcuda.Pointer;

/**
 * The raw values behind JCuda's handle objects (a CUfunction, a CUstream, a CUdeviceptr with its byte offset), for
 * the driver calls JCuda does not bind ({@link ProgrammaticLaunch}). JCuda keeps them in protected accessors; its
 * classes are on the class path (an unnamed module), so reflection may open them.
 */
final class NativeHandles {

    private static final Method NATIVE_POINTER = accessible(NativePointerObject.class, "getNativePointer");
    private static final Method BYTE_OFFSET = accessible(Pointer.class, "getByteOffset");

    private NativeHandles() {
    }

    /** The handle's value: the address a device pointer denotes (with its byte offset), 0 for null. */
    static long address(NativePointerObject handle) {
        if (handle == null) {
            return 0;
        }
        try {
            long base = (Long) NATIVE_POINTER.invoke(handle);
            return handle instanceof Pointer p ? base + (Long) BYTE_OFFSET.invoke(p) : base;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read the native value of " + handle, e);
        }
    }

    private static Method accessible(Class<?> owner, String name) {
        try {
            Method m = owner.getDeclaredMethod(name);
            m.setAccessible(true);
            return m;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new ExceptionInInitializerError("JCuda's " + owner.getName() + "." + name + "() is not accessible: " + e);
        }
    }
}

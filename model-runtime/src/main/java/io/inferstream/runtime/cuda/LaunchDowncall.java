package io.inferstream.runtime.cuda;

import java.nio.ByteBuffer;

/**
 * The driver's {@code cuLaunchKernelEx}, which JCuda does not bind, called through one of Java's foreign-function
 * APIs: Java 17's incubator ({@link IncubatorLaunchDowncall}) or Java 21's java.lang.foreign
 * ({@link FfmLaunchDowncall}). Everything is passed as an address, so {@link LaunchKernelEx} writes the same structs
 * whichever API calls the driver.
 */
interface LaunchDowncall {

    /** {@code bytes} of native memory, 16-byte aligned and never freed, and its address. */
    NativeArea allocate(int bytes);

    /** {@code CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** kernelParams, void** extra)}. */
    int launchKernelEx(long config, long function, long kernelParams, long extra) throws Throwable;

    /** Native memory seen as a buffer (native byte order), and where it starts. */
    record NativeArea(ByteBuffer bytes, long address) {
    }
}

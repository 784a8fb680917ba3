package io.inferstream.runtime.cuda;

import java.nio.file.Path;

import jcuda.driver.CUdeviceptr;

/**
 * Run by {@link ProgrammaticLaunchAbiTest} in a JVM started with {@link ProgrammaticLaunch#JVM_FLAGS}: one launch
 * through {@link ForeignProgrammaticLaunch} into the recorder library named by the first argument.
 */
public final class ProgrammaticLaunchAbiProbe {

    private ProgrammaticLaunchAbiProbe() {
    }

    public static void main(String[] args) {
        ProgrammaticLaunch.Opened opened = ProgrammaticLaunch.open(Path.of(args[0]));
        if (opened.launcher() == null) {
            System.out.println("unavailable: " + opened.reason());
            System.exit(2);
        }
        try {
            opened.launcher().launch(0x7f00deadbeefL, 7, 3, 256, 4096, 0xabc0L,
                    new Object[] {new CUdeviceptr().withByteOffset(4096), null, 42, 1.5f, 1L << 40});
            System.out.println("launched");
        } catch (RuntimeException e) {
            System.out.println("threw " + e.getMessage());
        }
    }
}

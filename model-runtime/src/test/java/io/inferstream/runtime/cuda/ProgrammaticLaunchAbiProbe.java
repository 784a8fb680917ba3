package io.inferstream.runtime.cuda;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;

import jcuda.driver.CUdeviceptr;

/**
 * Run by {@link ProgrammaticLaunchAbiTest} in a JVM started with {@link ProgrammaticLaunch#JVM_FLAGS}: one launch
 * through {@link LaunchKernelEx} into the recorder library named by the first argument; with the second
 * argument {@code again-in-another-class-loader}, a second one from these classes loaded anew.
 */
public final class ProgrammaticLaunchAbiProbe {

    private ProgrammaticLaunchAbiProbe() {
    }

    public static void main(String[] args) throws Exception {
        launchOnce(args[0]);
        if (args.length > 1 && args[1].equals("again-in-another-class-loader")) {
            // These classes anew, as Flink loads each submitted job's: the library is already in this JVM
            URL[] urls = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                    .map(ProgrammaticLaunchAbiProbe::url).toArray(URL[]::new);
            try (URLClassLoader job = new URLClassLoader(urls, ClassLoader.getPlatformClassLoader())) {
                Class<?> probe = job.loadClass(ProgrammaticLaunchAbiProbe.class.getName());
                if (probe == ProgrammaticLaunchAbiProbe.class) {
                    throw new IllegalStateException("the class was not loaded anew");
                }
                probe.getMethod("launchOnce", String.class).invoke(null, args[0]);
            }
        }
    }

    /** Opens the launcher over {@code library} and launches once, printing what happened. */
    public static void launchOnce(String library) {
        ProgrammaticLaunch.Opened opened = ProgrammaticLaunch.open(Path.of(library));
        if (opened.launcher() == null) {
            System.out.println("unavailable: " + opened.reason());
            return;
        }
        try {
            opened.launcher().launch(0x7f00deadbeefL, 7, 3, 256, 4096, 0xabc0L,
                    new Object[] {new CUdeviceptr().withByteOffset(4096), null, 42, 1.5f, 1L << 40});
            System.out.println("launched");
        } catch (RuntimeException e) {
            System.out.println("threw " + e.getMessage());
        }
    }

    private static URL url(String path) {
        try {
            return Path.of(path).toUri().toURL();
        } catch (java.net.MalformedURLException e) {
            throw new IllegalArgumentException(path, e);
        }
    }
}

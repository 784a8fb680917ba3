package io.inferstream.runtime.backend;

/**
 * Which CUDA device a {@code --device} that names none ({@code cuda}, {@code auto}) takes, among the machine's
 * {@code deviceCount}. A program with one engine takes {@link #FIRST}; a Flink TaskManager spreads its engines over
 * its GPUs (the jobs module's {@code GpuSpread}).
 */
@FunctionalInterface
public interface DevicePlacement {

    /** cuda:0, said without a reason: the device of a program that loads one engine (the CLI, the bench). */
    DevicePlacement FIRST = deviceCount -> new Placed(0, "");

    Placed place(int deviceCount);

    /**
     * @param ordinal the device taken, in 0 .. deviceCount - 1
     * @param why     why that one, for the choice's line; empty when there was nothing to choose
     */
    record Placed(int ordinal, String why) {
    }
}

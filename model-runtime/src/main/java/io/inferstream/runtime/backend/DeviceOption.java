package io.inferstream.runtime.backend;

import java.util.Locale;

/**
 * The {@code --device} option: {@code cpu}, {@code cuda} (a CUDA device: which one, a {@link DevicePlacement}
 * decides), {@code cuda:N} (that one), or {@code auto} (a GPU when CUDA initialises and one is present, placed like
 * {@code cuda}; else the CPU).
 *
 * @param kind    which backend was asked for
 * @param ordinal CUDA device index for {@code cuda:N}, {@link #ANY} where the option names no device
 */
public record DeviceOption(Kind kind, int ordinal) {

    public enum Kind { CPU, CUDA, AUTO }

    /** The ordinal of an option that names no device: cpu, auto, and cuda without {@code :N}. */
    public static final int ANY = -1;

    public static final DeviceOption CPU = new DeviceOption(Kind.CPU, ANY);
    public static final DeviceOption AUTO = new DeviceOption(Kind.AUTO, ANY);
    public static final DeviceOption CUDA = new DeviceOption(Kind.CUDA, ANY);

    /** Whether a GPU may run it and which one is left to a {@link DevicePlacement}: cuda without :N, or auto. */
    public boolean placed() {
        return kind != Kind.CPU && ordinal == ANY;
    }

    public static DeviceOption parse(String text) {
        String s = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        switch (s) {
            case "cpu":
                return CPU;
            case "auto":
                return AUTO;
            case "cuda":
            case "gpu":
                return CUDA;
            default:
                break;
        }
        if (s.startsWith("cuda:")) {
            String n = s.substring(5);
            if (!n.isEmpty() && n.chars().allMatch(Character::isDigit) && n.length() <= 4) {
                return new DeviceOption(Kind.CUDA, Integer.parseInt(n));
            }
        }
        throw new IllegalArgumentException("--device '" + text + "' is not one of: cpu, cuda, cuda:N (N >= 0), auto");
    }

    @Override
    public String toString() {
        return switch (kind) {
            case CPU -> "cpu";
            case AUTO -> "auto";
            case CUDA -> ordinal == ANY ? "cuda" : "cuda:" + ordinal;
        };
    }
}

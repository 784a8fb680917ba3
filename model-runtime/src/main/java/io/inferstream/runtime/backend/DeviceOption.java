package io.inferstream.runtime.backend;

import java.util.Locale;

/**
 * The {@code --device} option: {@code cpu}, {@code cuda} (= {@code cuda:0}), {@code cuda:N}, or {@code auto}
 * (a GPU when CUDA initialises and one is present, else the CPU).
 *
 * @param kind    which backend was asked for
 * @param ordinal CUDA device index (0 unless {@code cuda:N})
 */
public record DeviceOption(Kind kind, int ordinal) {

    public enum Kind { CPU, CUDA, AUTO }

    public static final DeviceOption CPU = new DeviceOption(Kind.CPU, 0);
    public static final DeviceOption AUTO = new DeviceOption(Kind.AUTO, 0);

    public static DeviceOption parse(String text) {
        String s = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        switch (s) {
            case "cpu":
                return CPU;
            case "auto":
                return AUTO;
            case "cuda":
            case "gpu":
                return new DeviceOption(Kind.CUDA, 0);
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
            case CUDA -> "cuda:" + ordinal;
        };
    }
}

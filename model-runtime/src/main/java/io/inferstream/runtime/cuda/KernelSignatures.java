package io.inferstream.runtime.cuda;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jcuda.driver.CUdeviceptr;

/**
 * The parameter types of every kernel entry of a PTX module ({@code .param .u64}, {@code .u32}, {@code .f32}, ...),
 * so that a launch can be checked against the kernel it names before it reaches the driver: cuLaunchKernel takes
 * whatever it is given, and an argument too few or of the wrong width shows up as corrupted memory far from its cause.
 */
final class KernelSignatures {

    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile("\\.param\\s+\\.(\\w+)\\s+\\w+");

    private final Map<String, List<String>> params = new HashMap<>();

    /** Adds the entries of one module's PTX text. */
    void add(String ptx) {
        Matcher e = ENTRY.matcher(ptx);
        while (e.find()) {
            List<String> types = new java.util.ArrayList<>();
            Matcher p = PARAM.matcher(e.group(2));
            while (p.find()) {
                types.add(p.group(1));
            }
            params.put(e.group(1), List.copyOf(types));
        }
    }

    /** The PTX parameter types of {@code kernel}, or null when no module declares it. */
    List<String> of(String kernel) {
        return params.get(kernel);
    }

    /**
     * Checks that {@code args} fit {@code kernel}'s parameters: as many, 64-bit ones given a device pointer (a
     * {@link DeviceBuffer}, a {@link CUdeviceptr} or null) or a Long, 32-bit integers an Integer, f32 a Float.
     *
     * @throws IllegalArgumentException naming the kernel, the parameter and what it expected
     */
    void check(String kernel, Object... args) {
        List<String> types = params.get(kernel);
        if (types == null) {
            throw new IllegalArgumentException("no CUDA kernel named " + kernel + " in the PTX");
        }
        if (types.size() != args.length) {
            throw new IllegalArgumentException(kernel + " takes " + types.size() + " arguments " + types + ", got "
                    + args.length);
        }
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            String t = types.get(i);
            boolean ok = switch (t) {
                case "u64", "s64", "b64" -> a == null || a instanceof DeviceBuffer || a instanceof CUdeviceptr
                        || a instanceof Long;
                case "u32", "s32", "b32" -> a instanceof Integer;
                case "f32" -> a instanceof Float;
                default -> false;
            };
            if (!ok) {
                throw new IllegalArgumentException(kernel + ": argument " + i + " is ." + t + " in the PTX, got "
                        + (a == null ? "null" : a.getClass().getSimpleName()));
            }
        }
    }
}

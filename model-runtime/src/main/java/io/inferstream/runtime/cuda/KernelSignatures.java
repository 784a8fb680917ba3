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
    /** {@code __launch_bounds__(n)} in the PTX: the entry's directives between its parameters and its body. */
    private static final Pattern MAXNTID = Pattern.compile("\\.maxntid\\s+(\\d+)\\s*,\\s*(\\d+)\\s*,\\s*(\\d+)");

    private final Map<String, List<String>> params = new HashMap<>();
    private final Map<String, Integer> maxThreads = new HashMap<>();

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
            int body = ptx.indexOf('{', e.end());
            Matcher bound = MAXNTID.matcher(ptx.substring(e.end(), body < 0 ? ptx.length() : body));
            if (bound.find()) {
                maxThreads.put(e.group(1), Integer.parseInt(bound.group(1)) * Integer.parseInt(bound.group(2))
                        * Integer.parseInt(bound.group(3)));
            }
        }
    }

    /** The most threads per block {@code kernel} was compiled for ({@code __launch_bounds__}), or null when unbounded. */
    Integer maxThreads(String kernel) {
        return maxThreads.get(kernel);
    }

    /**
     * Checks a block of {@code threads} against the kernel's launch bounds: the driver refuses a larger block with a
     * bare CUDA_ERROR_INVALID_VALUE, which names neither the kernel nor the bound.
     *
     * @throws IllegalArgumentException naming the kernel, its bound and the block size
     */
    void checkBlock(String kernel, int threads) {
        Integer most = maxThreads.get(kernel);
        if (threads < 1 || threads > (most == null ? 1024 : most)) {
            throw new IllegalArgumentException(kernel + " is compiled for blocks of at most " + (most == null ? "1024" : most)
                    + " threads (__launch_bounds__), launched with " + threads);
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

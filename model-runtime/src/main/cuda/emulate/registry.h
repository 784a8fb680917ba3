// The kernels the emulated driver (driver.cpp) can launch by name, as cuLaunchKernel does: each PTX module's entries,
// registered by the code emulate.sh appends to the module's host build, with a launcher that takes the driver's
// void** kernelParams and the size of each parameter (for copying them into a captured CUDA graph).
#pragma once
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace emu {

using Launcher = void (*)(dim3 grid, dim3 block, size_t smem, void** params);

struct KernelEntry {
    const char* table; // "base" (compute_80 modules), "pdl" (stream_sm90) or "wg" (stream_wgmma)
    const char* name;
    Launcher launch;
    std::vector<size_t> paramSizes;
};

void register_kernel(const KernelEntry& e);

template <typename F> struct Signature;
template <typename... P> struct Signature<void (*)(P...)> {
    template <void (*K)(P...), size_t... I>
    static void call(dim3 g, dim3 b, size_t smem, void** a, std::index_sequence<I...>) {
        launch(K, g, b, smem, *static_cast<std::decay_t<P>*>(a[I])...);
    }
    template <void (*K)(P...)>
    static void launcher(dim3 g, dim3 b, size_t smem, void** a) {
        call<K>(g, b, smem, a, std::index_sequence_for<P...>{});
    }
    static std::vector<size_t> sizes() { return {sizeof(std::decay_t<P>)...}; }
};

} // namespace emu

// EMU_KERNEL("base", embed_f32, embed_f32): the entry "embed_f32" of the base modules is the host function embed_f32.
#define EMU_KERNEL(table, name, fn)                                                                                    \
    emu::register_kernel({table, name, &emu::Signature<decltype(&fn)>::template launcher<&fn>,                        \
                          emu::Signature<decltype(&fn)>::sizes()})

#!/usr/bin/env bash
# The CUDA kernels on the host, through emulate/cuda_shim.h (threads as fibers, so barriers and warp shuffles behave as
# on a GPU). Needs g++ (no GPU, no nvcc).
#   emulate.sh                  runs emulate/kernel_check.cpp: the fused kernels next to the separate ones they
#                               replace, the streaming products against double products
#   emulate.sh check ORDER...   the same once per order of blocks and threads (forward, reverse, shuffle:SEED), a
#                               line each
#   emulate.sh libcuda <dir>    builds <dir>/libcuda.so.1: emulate/driver.cpp's emulated CUDA driver with every entry
#                               of the shipped PTX modules (src/main/resources/cuda), for a JVM started with <dir> on
#                               LD_LIBRARY_PATH (EmulatedDeviceTest)
# Exit 0: all checks passed (or no g++: skipped, saying so); 3: this C library has no ucontext for the fibers.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mode="${1:-check}"
if ! command -v g++ >/dev/null 2>&1; then
  echo "[emulate] g++ not on the PATH: skipped"; exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# the fibers need ucontext (glibc has it; musl, for one, does not): exit 3 = cannot run here
printf '#include <ucontext.h>\nint main() { ucontext_t c; return getcontext(&c); }\n' > "$work/probe.cpp"
if ! g++ -o "$work/probe" "$work/probe.cpp" >/dev/null 2>&1 || ! "$work/probe"; then
  echo "[emulate] cannot run here: this C library has no working ucontext (getcontext/makecontext) for the fibers; run it on a glibc system (most Linux distributions)"
  exit 3
fi
rm -f "$work/probe" "$work/probe.cpp"
cxx=(g++ -std=c++17 -O1 -ffp-contract=off -w -DINFERSTREAM_EMULATE -I"$here/emulate/include" -I"$here/emulate"
     -include "$here/emulate/cuda_shim.h")
# -fvisibility-inlines-hidden: the shim's helpers (block(), the fiber switch) called directly, not through the PLT
if [[ "$mode" == libcuda ]]; then cxx+=(-fPIC -fvisibility-inlines-hidden); fi
# every static __shared__ declaration, in the headers too, is followed by its registration (emu::poison_shared: all-ones
# bytes once per block, and saved while another block in flight runs)
poison_shared='s/^(\s*__shared__ [^;]*\b([A-Za-z_][A-Za-z_0-9]*)(\[[^];]*\])*;)/\1 emu::poison_shared(\&\2, sizeof(\2));/'
for h in common.cuh mma.cuh reduce.cuh wgmma.cuh; do sed -E -e "$poison_shared" "$here/$h" > "$work/$h"; done
# inline PTX cannot run on the host: compiled away (emu_unsupported() counts a kernel that reaches it); dynamic shared
# memory comes from the emulated block
host_source() { # file.cu namespace-or-empty
  local body
  body="$(sed -E -e 's/asm volatile\(/EMU_ASM(/g' -e 's/\basm\(/EMU_ASM(/g' \
      -e 's/extern __shared__ ([A-Za-z_]+) ([A-Za-z_]+)\[\];/\1* \2 = (\1*) emu::dynamic_smem();/' \
      -e "$poison_shared" \
      "$here/$1")"
  if [[ -n "$2" ]]; then
    echo "namespace $2 {"; sed -e 's/extern "C" //' <<< "$body"; echo '}'
  else
    echo "$body"
  fi
}
registry() { # module.ptx table namespace-prefix: registers every entry of the shipped PTX module
  echo '#include "registry.h"'
  echo "static int emu_registered = [] {"
  grep -oE '\.entry [A-Za-z_0-9]+' "$here/../resources/cuda/$1" | while read -r _ name; do
    echo "    EMU_KERNEL(\"$2\", \"$name\", $3$name);"
  done
  echo "    return 0;"
  echo "}();"
}
modules=(elementwise matmul attention stream sampling experts)
if [[ "$mode" == libcuda ]]; then modules+=(prefetch); fi
for name in "${modules[@]}"; do
  { host_source "$name.cu" ""; if [[ "$mode" == libcuda ]]; then registry "$name.ptx" base ""; fi; } > "$work/$name.cpp"
  "${cxx[@]}" -c "$work/$name.cpp" -o "$work/$name.o" &
done
# the sm_90a module (stream.cu with -DST_WGMMA: the products on warpgroup MMAs) beside the other, its kernels in
# namespace wg, and stream_sm90 (-DST_PDL: the mma.sync products ready for programmatic launch) in namespace pdl
{ host_source stream.cu wg; if [[ "$mode" == libcuda ]]; then registry stream_wgmma.ptx wg wg::; fi; } > "$work/stream_wg.cpp"
"${cxx[@]}" -DST_WGMMA -c "$work/stream_wg.cpp" -o "$work/stream_wg.o" &
{ host_source stream.cu pdl; if [[ "$mode" == libcuda ]]; then registry stream_sm90.ptx pdl pdl::; fi; } > "$work/stream_pdl.cpp"
"${cxx[@]}" -DST_PDL -c "$work/stream_pdl.cpp" -o "$work/stream_pdl.o" &
for job in $(jobs -p); do wait "$job"; done
case "$mode" in
  check)
    g++ -std=c++17 -O1 -ffp-contract=off -w -I"$here/emulate/include" -I"$here/emulate" -c "$here/emulate/kernel_check.cpp" -o "$work/check.o"
    g++ -o "$work/check" "$work"/*.o
    if [[ $# -le 1 ]]; then
      "$work/check"
    else # check ORDER...: once per order of blocks and threads, a line each (barrier_mutants.sh reads them)
      status=0
      for order in "${@:2}"; do
        if INFERSTREAM_EMULATED_ORDER="$order" "$work/check" > "$work/check.log" 2>&1; then
          echo "[emulate] $order: passed ($(grep -c '^ok ' "$work/check.log") checks)"
        else
          grep -E '^FAIL|emulated block' "$work/check.log" | head -3
          echo "[emulate] $order: FAILED"; status=1
        fi
      done
      exit "$status"
    fi
    ;;
  libcuda)
    out="${2:?output directory}"
    mkdir -p "$out"
    g++ -std=c++17 -O1 -w -fPIC -fvisibility-inlines-hidden -I"$here/emulate/include" -I"$here/emulate" -c "$here/emulate/driver.cpp" -o "$work/driver.o"
    g++ -shared -Wl,-soname,libcuda.so.1 -o "$out/libcuda.so.1" "$work"/*.o
    echo "[emulate] wrote $out/libcuda.so.1"
    ;;
  *)
    echo "usage: emulate.sh [check | libcuda <dir>]" >&2; exit 2
    ;;
esac

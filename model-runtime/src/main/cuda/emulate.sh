#!/usr/bin/env bash
# Runs emulate/kernel_check.cpp: the fused kernels next to the separate ones they replace, on the host, through
# emulate/cuda_shim.h (threads as fibers, so barriers and warp shuffles behave as on a GPU). Needs g++ (no GPU, no nvcc).
# Usage: bash model-runtime/src/main/cuda/emulate.sh   (exit 0: all checks passed or no g++; 3: no ucontext here)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
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
for name in elementwise matmul attention stream sampling; do
  # inline PTX cannot run on the host: compiled away (those kernels are never launched here); dynamic shared memory
  # comes from the emulated block
  sed -E -e 's/asm volatile\(/EMU_ASM(/g' -e 's/\basm\(/EMU_ASM(/g' \
      -e 's/extern __shared__ ([A-Za-z_]+) ([A-Za-z_]+)\[\];/\1* \2 = (\1*) emu::dynamic_smem();/' \
      "$here/$name.cu" > "$work/$name.cpp"
  cp "$here/common.cuh" "$here/mma.cuh" "$here/reduce.cuh" "$here/wgmma.cuh" "$work/"
  g++ -std=c++17 -O1 -ffp-contract=off -w -DINFERSTREAM_EMULATE -I"$here/emulate/include" -include "$here/emulate/cuda_shim.h" \
      -c "$work/$name.cpp" -o "$work/$name.o"
done
# the sm_90a module (stream.cu with -DST_WGMMA: the products on warpgroup MMAs) beside the other, its kernels in
# namespace wg: kernel_check.cpp compares the two
{ echo 'namespace wg {'; sed -E -e 's/asm volatile\(/EMU_ASM(/g' -e 's/\basm\(/EMU_ASM(/g' -e 's/extern "C" //' "$here/stream.cu"; echo '}'; } \
  > "$work/stream_wg.cpp"
g++ -std=c++17 -O1 -ffp-contract=off -w -DINFERSTREAM_EMULATE -DST_WGMMA -I"$here/emulate/include" \
    -include "$here/emulate/cuda_shim.h" -c "$work/stream_wg.cpp" -o "$work/stream_wg.o"
# and stream_sm90 (stream.cu with -DST_PDL: the mma.sync products ready for programmatic launch) in namespace pdl
{ echo 'namespace pdl {'; sed -E -e 's/asm volatile\(/EMU_ASM(/g' -e 's/\basm\(/EMU_ASM(/g' -e 's/extern "C" //' "$here/stream.cu"; echo '}'; } \
  > "$work/stream_pdl.cpp"
g++ -std=c++17 -O1 -ffp-contract=off -w -DINFERSTREAM_EMULATE -DST_PDL -I"$here/emulate/include" \
    -include "$here/emulate/cuda_shim.h" -c "$work/stream_pdl.cpp" -o "$work/stream_pdl.o"
g++ -std=c++17 -O1 -ffp-contract=off -w -I"$here/emulate/include" -I"$here/emulate" -c "$here/emulate/kernel_check.cpp" -o "$work/check.o"
g++ -o "$work/check" "$work"/*.o
"$work/check"

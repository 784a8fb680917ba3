#!/usr/bin/env bash
# Which missing barriers the emulator's checks see, and in which order of blocks and threads: for every
# __syncthreads() of the kernels, a copy of the sources without it runs emulate.sh's checks in forward, reverse and
# shuffle order. Prints one line per barrier (file:line, then caught/missed per order); a barrier no order catches is
# either not needed by the checked kernels' shapes or in a kernel the checks do not run. Slow: ~30 s per barrier.
#   barrier_mutants.sh [file.cu ...]    (default: every .cu and .cuh)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$here"
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then files=(*.cu *.cuh); fi
orders=(forward reverse shuffle:1)
printf '%-22s %s\n' "barrier" "${orders[*]}"
for f in "${files[@]}"; do
  for line in $(grep -n '__syncthreads();' "$f" | cut -d: -f1); do
    rm -rf "$work/cuda" && mkdir -p "$work/cuda" && cp -r "$here"/. "$work/cuda/"
    sed -i "${line}s/__syncthreads();/;/" "$work/cuda/$f"
    timeout 900 bash "$work/cuda/emulate.sh" check "${orders[@]}" > "$work/log" 2>&1 || true
    row=""
    for o in "${orders[@]}"; do
      if grep -qF "[emulate] $o: passed" "$work/log"; then row+=" missed"; else row+=" caught"; fi
    done
    printf '%-22s%s\n' "$f:$line" "$row"
  done
done

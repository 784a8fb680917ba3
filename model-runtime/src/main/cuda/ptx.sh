#!/usr/bin/env bash
# Compiles the CUDA kernels (*.cu beside this script) to PTX for compute capability 8.0.
#   ptx.sh check <outdir>   compile into <outdir> and fail if any differs from the committed copy in
#                           src/main/resources/cuda (no-op without nvcc; a different nvcc release only warns,
#                           since PTX is reproducible for one compiler release, not across releases)
#   ptx.sh update           regenerate the committed copies
#   ptx.sh ptxas            compile to sm_90 cubins (scratch dir) and print ptxas registers/spills per kernel;
#                           fails if any kernel spills
# Flags are fixed and nvcc writes no paths or timestamps into PTX, so the output is deterministic.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
committed="$here/../resources/cuda"
mode="${1:-check}"
if ! command -v nvcc >/dev/null 2>&1; then
  echo "[ptx] nvcc not on the PATH: packaging the committed PTX from src/main/resources/cuda"
  exit 0
fi
flags=(-ptx -arch=compute_80 -O3 -std=c++17)
release="$(nvcc --version | grep -o 'release [0-9.]*' | head -1)"
case "$mode" in
  update)
    mkdir -p "$committed"
    for cu in "$here"/*.cu; do
      name="$(basename "$cu" .cu)"
      (cd "$here" && nvcc "${flags[@]}" -o "$committed/$name.ptx" "$name.cu")
      echo "[ptx] wrote $committed/$name.ptx"
    done
    ;;
  check)
    out="${2:?output directory}"
    mkdir -p "$out"
    status=0
    for cu in "$here"/*.cu; do
      name="$(basename "$cu" .cu)"
      (cd "$here" && nvcc "${flags[@]}" -o "$out/$name.ptx" "$name.cu")
      ref="$committed/$name.ptx"
      if [[ ! -f "$ref" ]]; then
        echo "[ptx] ERROR: $ref is missing; run: bash $here/ptx.sh update"
        status=1
      elif ! cmp -s "$out/$name.ptx" "$ref"; then
        if grep -q "$release" "$ref"; then
          echo "[ptx] ERROR: $name.ptx compiled by nvcc ($release) differs from the committed $ref; run: bash $here/ptx.sh update"
          status=1
        else
          echo "[ptx] WARNING: committed $name.ptx comes from another nvcc release than this one ($release); not compared"
        fi
      fi
    done
    [[ $status == 0 ]] && echo "[ptx] $(ls "$here"/*.cu | wc -l) kernels compiled by nvcc $release match the committed PTX"
    exit $status
    ;;
  ptxas)
    out="$(mktemp -d)"
    report="$out/ptxas.txt"
    for cu in "$here"/*.cu; do
      name="$(basename "$cu" .cu)"
      (cd "$here" && nvcc -cubin -arch=sm_90 -O3 -std=c++17 -Xptxas -v -o "$out/$name.cubin" "$name.cu") 2>&1 \
        | grep -E "Compiling entry|Used [0-9]+ registers|spill" | sed "s/^ptxas info *: //" >> "$report"
    done
    cat "$report"
    spills="$(grep -E "[1-9][0-9]* bytes spill" "$report" || true)"
    rm -rf "$out"
    if [[ -n "$spills" ]]; then
      echo "[ptx] ERROR: register spills:"; echo "$spills"; exit 1
    fi
    echo "[ptx] sm_90 cubins compiled, no register spills"
    ;;
  *) echo "usage: ptx.sh check <outdir> | update | ptxas" >&2; exit 2 ;;
esac

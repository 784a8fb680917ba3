#!/usr/bin/env bash
# Compiles the CUDA kernels (*.cu beside this script) to PTX for compute capability 8.0, and stream.cu a second time
# with -DST_WGMMA for sm_90a (stream_wgmma.ptx: the streaming products on Hopper's warpgroup MMAs, loaded on 9.x only),
# and elementwise, attention, matmul and stream for compute_90 with -DST_PDL (*_sm90.ptx: the same kernels, with the
# programmatic-launch instructions of common.cuh; loaded on 9.x only, used when programmatic launches are chosen).
#   ptx.sh check <outdir>   compile into <outdir> and fail if any differs from the committed copy in
#                           src/main/resources/cuda (no-op without nvcc; a different nvcc release only warns,
#                           since PTX is reproducible for one compiler release, not across releases)
#   ptx.sh update           regenerate the committed copies
#   ptx.sh ptxas            compile to sm_90 cubins (sm_90a for stream_wgmma; scratch dir) and print ptxas
#                           registers/spills per kernel; fails if any kernel spills or ptxas serializes wgmma or
#                           injects warpgroup waits/arrives around it (its C75xx notes)
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
wgmma_flags=(-ptx -arch=compute_90a -O3 -std=c++17 -DST_WGMMA)
sm90_flags=(-ptx -arch=compute_90 -O3 -std=c++17 -DST_PDL)
# every module: name, source, flags
modules() {
  for cu in "$here"/*.cu; do echo "$(basename "$cu" .cu) $(basename "$cu") base"; done
  echo "stream_wgmma stream.cu wgmma"
  for m in elementwise attention matmul stream; do echo "${m}_sm90 $m.cu sm90"; done
}
compile() { # name source kind out.ptx
  if [[ "$3" == wgmma ]]; then
    (cd "$here" && nvcc "${wgmma_flags[@]}" -o "$4" "$2")
  elif [[ "$3" == sm90 ]]; then
    (cd "$here" && nvcc "${sm90_flags[@]}" -o "$4" "$2")
  else
    (cd "$here" && nvcc "${flags[@]}" -o "$4" "$2")
  fi
}
release="$(nvcc --version | grep -o 'release [0-9.]*' | head -1)"
case "$mode" in
  update)
    mkdir -p "$committed"
    while read -r name src kind; do
      compile "$name" "$src" "$kind" "$committed/$name.ptx"
      echo "[ptx] wrote $committed/$name.ptx"
    done < <(modules)
    ;;
  check)
    out="${2:?output directory}"
    mkdir -p "$out"
    status=0
    while read -r name src kind; do
      compile "$name" "$src" "$kind" "$out/$name.ptx"
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
    done < <(modules)
    [[ $status == 0 ]] && echo "[ptx] $(modules | wc -l) modules compiled by nvcc $release match the committed PTX"
    exit $status
    ;;
  ptxas)
    out="$(mktemp -d)"
    report="$out/ptxas.txt"
    while read -r name src kind; do
      arch=sm_90; defs=()
      if [[ "$kind" == wgmma ]]; then arch=sm_90a; defs=(-DST_WGMMA); fi
      if [[ "$kind" == sm90 ]]; then defs=(-DST_PDL); fi
      (cd "$here" && nvcc -cubin -arch=$arch -O3 -std=c++17 "${defs[@]}" -Xptxas -v -o "$out/$name.cubin" "$src") 2>&1 \
        | grep -E "Compiling entry|Used [0-9]+ registers|spill|serialized|injected|C75[0-9][0-9]" | sed "s/^ptxas info *: //" >> "$report"
    done < <(modules)
    cat "$report"
    spills="$(grep -E "[1-9][0-9]* bytes spill" "$report" || true)"
    serial="$(grep -E "serialized|injected|C75[0-9][0-9]" "$report" || true)"
    rm -rf "$out"
    if [[ -n "$spills" ]]; then
      echo "[ptx] ERROR: register spills:"; echo "$spills"; exit 1
    fi
    if [[ -n "$serial" ]]; then
      echo "[ptx] ERROR: ptxas serialized warpgroup MMAs or injected waits around them:"; echo "$serial"; exit 1
    fi
    echo "[ptx] sm_90 / sm_90a cubins compiled, no register spills, no serialized warpgroup MMAs or injected waits"
    ;;
  *) echo "usage: ptx.sh check <outdir> | update | ptxas" >&2; exit 2 ;;
esac

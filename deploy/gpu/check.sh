#!/usr/bin/env bash
# The GPU device check, run once on a GPU machine from the repository root with the .gpu/ bundle that
# deploy/gpu/prepare.sh built (no Java, Maven or build needed there):
#   bash deploy/gpu/check.sh
# Stages (each prints PASS/FAIL/SKIP/INFO; later stages run regardless): jre, nvidia-smi, gpu-tests, device-loss, bench,
# engine-bench, kquant-bench (opt-in), kernel-profile (+ kernel-detail). GPU_TEST_CLASSES, BENCH=0, ENGINE_BENCH=0,
# NCU_PROFILE=0 and NCU_DETAIL=0 narrow a rerun. CHECK_BUDGET_S (default 540) is the whole run's time: each stage's own
# limit is cut to what is left, and a stage that would start with less than 30 s left is skipped (saying so), so the
# summary is written before the device tool ends the call at 600 s.
# Logs, JUnit XML reports and bench.md go to $OUT (default .gpu/out). Exit status: 0 when every stage passed.
# On a machine without a GPU the same steps run: the GPU tests must report that they were skipped, and the
# bench runs a small model on the CPU to exercise the harness.
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
OUT="${OUT:-$root/.gpu/out}"
mkdir -p "$OUT"
bundle="$root/.gpu"
export INFERSTREAM_MODELS="$bundle/models"
export INFERSTREAM_REPO_ROOT="$root"
jre_dir=/tmp/inferstream-jre
java="$jre_dir/jre/bin/java"
# jdk.incubator.foreign + native access: the programmatic launches (ProgrammaticLaunch.JVM_FLAGS)
flags=(--add-modules jdk.incubator.vector,jdk.incubator.foreign --enable-native-access=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
       --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED -Xss4m
       -XX:PerMethodTrapLimit=10000)  # as the tests run here (pom.xml's test.argLine; CompilerTrapLimit)
cp="$(ls "$bundle"/lib/*.jar | tr '\n' ':')"
summary="$OUT/summary.txt"
: > "$summary"
failed=0
started=$(date +%s)
budget="${CHECK_BUDGET_S:-540}"

limit() { # a stage's own limit in s -> that limit cut to the budget left (less 10 s for the summary); 0 = skip it
  local left=$(( budget - ($(date +%s) - started) - 10 ))
  if (( left < 30 )); then echo 0; elif (( left < $1 )); then echo "$left"; else echo "$1"; fi
}

result() { # stage status detail
  local line
  line=$(printf '%-12s %-5s %s' "$1" "$2" "$3")
  echo "$line" | tee -a "$summary"
  [[ "$2" == PASS || "$2" == SKIP || "$2" == INFO ]] || failed=1
}

echo "=== stage jre"
echo "glibc: $(ldd --version 2>&1 | head -1) (the bundled Debian 12 JRE needs glibc >= 2.34)"
missing=""
for lib in libstdc++.so.6 libgcc_s.so.1 libz.so.1; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || missing="$missing $lib"
done
if [[ -n "$missing" ]]; then
  echo "system lacks:$missing; using the bundled copies in $bundle/native"
  export LD_LIBRARY_PATH="$bundle/native${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
rm -rf "$jre_dir" && mkdir -p "$jre_dir"
unxz_tar() { # archive dir: tar's xz, or Python's lzma where the image has no xz
  tar -xJf "$1" -C "$2" 2>/dev/null || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"
}
if unxz_tar "$bundle/jre.txz" "$jre_dir" && "$java" -version > "$OUT/jre.log" 2>&1; then
  result jre PASS "$(head -1 "$OUT/jre.log")"
else
  result jre FAIL "cannot unpack or run the bundled JRE (see $OUT/jre.log)"
fi

echo "=== stage nvidia-smi"
gpu=0
if command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi > "$OUT/nvidia-smi.log" 2>&1; then
  gpu=1
  cat "$OUT/nvidia-smi.log"
  gpu_name="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
  result nvidia-smi PASS "$gpu_name"
  # GPU tests must not pass by being skipped on a GPU machine.
  export INFERSTREAM_REQUIRE_GPU=1
else
  result nvidia-smi SKIP "no NVIDIA GPU here: GPU tests are expected to be skipped"
fi

echo "=== stage gpu-tests"
if [[ "${GPU_TESTS:-1}" == 0 ]]; then
  result gpu-tests INFO "not run (GPU_TESTS=0: a measuring rerun)"
else
# GPU_TEST_CLASSES (space-separated class names) replaces the default selection for a focused rerun.
classes=(${GPU_TEST_CLASSES:-io.inferstream.runtime.backend.DeviceOptionTest io.inferstream.runtime.cuda.MemoryPlanTest
  io.inferstream.runtime.cuda.CudaKernelsTest io.inferstream.runtime.cuda.DeviceKernelsGpuTest
  io.inferstream.runtime.cuda.SplitAttentionGpuTest io.inferstream.runtime.cuda.TiledAttentionGpuTest
  io.inferstream.runtime.model.CudaLlamaModelGpuTest
  io.inferstream.runtime.engine.EngineCudaGpuTest io.inferstream.runtime.cli.GenerateCommandTest
  io.inferstream.runtime.backend.BackendsGpuTest})
selects=()
for c in "${classes[@]}"; do selects+=(--select-class "$c"); done
# two engines on one GPU at once, and a closed engine's KV cache freed beside another model (the class's third test
# needs two GPUs, and would count as skipped here)
if [[ -z "${GPU_TEST_CLASSES:-}" ]]; then
  selects+=(--select-method "io.inferstream.runtime.backend.SeveralDevicesGpuTest#twoEnginesOnOneDeviceStepAtOnce"
            --select-method "io.inferstream.runtime.backend.SeveralDevicesGpuTest#aClosedEnginesKvCacheIsFreedAtOnceBesideAnotherModel")
fi
t=$(limit 170); (( t > 0 )) || t=1 # (a budget already spent: the tests time out and the stage fails, saying rc=124)
timeout "$t" "$java" "${flags[@]}" -cp "$cp" org.junit.platform.console.ConsoleLauncher execute \
  --disable-banner --details=tree --reports-dir "$OUT/junit" "${selects[@]}" > "$OUT/gpu-tests.log" 2>&1
rc=$?
cat "$OUT/gpu-tests.log" | grep -v "^\s*at " | tail -120
count() { grep -E "\[ *[0-9]+ tests $1 *\]" "$OUT/gpu-tests.log" | grep -oE "[0-9]+" | head -1; }
succeeded=$(count successful); tfailed=$(count failed); aborted=$(count aborted); skipped=$(count skipped)
detail="rc=$rc successful=${succeeded:-?} failed=${tfailed:-?} aborted=${aborted:-?} skipped=${skipped:-?}"
if [[ $rc -ne 0 || -z "${succeeded:-}" ]]; then
  result gpu-tests FAIL "$detail"
elif [[ $gpu == 1 && ( "${aborted:-0}" != 0 || "${skipped:-0}" != 0 ) ]]; then
  result gpu-tests FAIL "$detail: GPU tests were skipped on a GPU machine"
elif [[ $gpu == 0 ]]; then
  reason="$(grep -m1 -o 'no CUDA device: .*' "$OUT/gpu-tests.log" | cut -c1-200)"
  if [[ "${aborted:-0}" != 0 && -n "$reason" ]]; then
    result gpu-tests SKIP "$detail: GPU tests skipped (${reason})"
  else
    result gpu-tests FAIL "$detail: expected the GPU tests to be skipped with a reason"
  fi
else
  result gpu-tests PASS "$detail"
fi
fi

echo "=== stage device-loss"
# A GPU lost to a sticky error (an MMU fault the test causes on purpose) fails the engine with the reason, and the
# next model on the device runs after its context is reset: in a JVM of its own, since the reset ends every other
# CUDA object of the process (DeviceLossGpuTest; the emulated driver runs it in CI with an injected fault).
if [[ $gpu == 1 && "${GPU_TESTS:-1}" != 0 && $(limit 60) != 0 ]]; then
  INFERSTREAM_DEVICE_LOSS_TEST=1 timeout "$(limit 60)" "$java" "${flags[@]}" -cp "$cp" org.junit.platform.console.ConsoleLauncher execute \
    --disable-banner --details=tree --reports-dir "$OUT/junit-device-loss" \
    --select-class io.inferstream.runtime.backend.DeviceLossGpuTest > "$OUT/device-loss.log" 2>&1
  rc=$?
  grep -v "^\s*at " "$OUT/device-loss.log" | tail -30
  if [[ $rc == 0 ]] && grep -qE "\[ *1 tests successful *\]" "$OUT/device-loss.log"; then
    result device-loss PASS "the engine failed with the reason; the next model ran after the context reset"
  else
    result device-loss FAIL "rc=$rc (see $OUT/device-loss.log)"
  fi
else
  result device-loss SKIP "no GPU, GPU_TESTS=0 or out of budget"
fi

echo "=== stage bench"
if [[ $gpu == 1 ]]; then
  bench_args=(--random-llama-1b /tmp/inferstream-llama-1b-bf16.gguf --device cuda --concurrency 1,16,64 --prompt 128 --steps 32 --hbm-gbps "${HBM_GBPS:-4800}")
else
  bench_args=(--random-llama-1b /tmp/inferstream-tiny.gguf --random-shape 256,512,2,8,2,1000 --device cpu --concurrency 1,4 --prompt 16 --steps 4)
fi
if [[ "${BENCH:-1}" == 0 ]]; then
  result bench INFO "not run (BENCH=0)"
elif [[ $(limit 170) == 0 ]]; then
  result bench SKIP "out of the ${budget} s budget (CHECK_BUDGET_S)"
elif timeout "$(limit 170)" "$java" "${flags[@]}" -Xmx40g -cp "$cp" io.inferstream.runtime.cuda.GpuBench "${bench_args[@]}" --out "$OUT/bench.md" > "$OUT/bench.log" 2>&1; then
  cat "$OUT/bench.log"
  result bench PASS "table in $OUT/bench.md"
  # issue 7's acceptance number, one line per concurrency (informational: the check passes either way)
  grep '^roofline: ' "$OUT/bench.log" | while read -r line; do result roofline INFO "${line#roofline: }"; done
else
  tail -60 "$OUT/bench.log"
  result bench FAIL "see $OUT/bench.log"
  # Much of the engine's newest GPU code was written without a GPU: a kernel that faults takes the CUDA context (and
  # the load) down with it. Rerun once with every choice made since the last measured run (run 6) forced off, so that
  # the acceptance number comes out all the same, and say which way it was measured.
  safe=(-Dinferstream.cuda.wgmma=off -Dinferstream.cuda.productReduction=off -Dinferstream.cuda.attentionPrefetch=off
        -Dinferstream.cuda.fuseHalves=off -Dinferstream.cuda.fuseRope=off -Dinferstream.cuda.l2PrefetchMiB=0
        -Dinferstream.cuda.packedStream=off -Dinferstream.cuda.tallStream=off -Dinferstream.cuda.slicedPrefill=off
        -Dinferstream.cuda.smallStream=off -Dinferstream.cuda.tiledAttention=off -Dinferstream.cuda.tiledDecode=off
        -Dinferstream.cuda.quantStream=off -Dinferstream.cuda.programmaticLaunch=off)
  if [[ $gpu == 1 && $(limit 170) != 0 ]] && timeout "$(limit 170)" "$java" "${flags[@]}" -Xmx40g "${safe[@]}" -cp "$cp" \
       io.inferstream.runtime.cuda.GpuBench "${bench_args[@]}" --out "$OUT/bench-safe.md" > "$OUT/bench-safe.log" 2>&1; then
    cat "$OUT/bench-safe.log"
    result bench-safe INFO "the bench with the choices since run 6 forced off passed: table in $OUT/bench-safe.md"
    grep '^roofline: ' "$OUT/bench-safe.log" | while read -r line; do result roofline INFO "(run-6 kernels) ${line#roofline: }"; done
  elif [[ $gpu == 1 ]]; then
    tail -30 "$OUT/bench-safe.log" 2>/dev/null
    result bench-safe INFO "the bench with the choices since run 6 forced off did not pass either (see $OUT/bench-safe.log)"
  fi
fi

echo "=== stage engine-bench"
# The whole engine (scheduler, sampler, KV manager) on the GPU through the CLI's `bench --device cuda`: one request
# at a time, static batches and continuous batching in one run, for Llama-3.2-1B BF16 at concurrency 64 and for
# issue 4's SmolLM2-135M Q8_0 workload (64 requests, prompt 128, output 64, concurrency 32).
if [[ $gpu == 1 && "${ENGINE_BENCH:-1}" == 1 ]]; then
  ok=1
  for run in "llama-3.2-1b bf16 64" "smollm2-135m q8_0 32"; do
    set -- $run
    if [[ $(limit 200) == 0 ]]; then
      echo "engine-bench $1: out of the ${budget} s budget"; ok=0
    elif timeout "$(limit 200)" "$java" "${flags[@]}" -Xmx40g -cp "$cp" io.inferstream.runtime.cli.BenchCommand --device cuda \
         --random-model "$1" --type "$2" --requests 64 --prompt-length 128 --output-length 64 --concurrency "$3" \
         --kv-precision F16 --kv-cache-memory 8GiB --out "$OUT/engine-bench-$1" > "$OUT/engine-bench-$1.log" 2>&1; then
      grep -B1 -A4 '^| mode' "$OUT/engine-bench-$1.log"
    else
      tail -30 "$OUT/engine-bench-$1.log"
      ok=0
    fi
  done
  if [[ $ok == 1 ]]; then result engine-bench PASS "tables in $OUT/engine-bench-*"; else result engine-bench FAIL "see $OUT/engine-bench-*.log"; fi
else
  result engine-bench SKIP "no GPU or ENGINE_BENCH=0"
fi

echo "=== stage kquant-bench"
# Opt-in (KQUANT_BENCH=1; it does not fit one call next to the stages above): Llama-3.2-1B in Q4_K through the
# engine with the K-quant weights kept quantized on the device (the CPU's planes, ~0.6-0.75 bytes a weight: matvec for
# 1..8 tokens, matmul_stream_q4_k / _q6_k on tensor cores beyond where chosen at load, else the tiled kernels) and
# decoded to F16 (the 16-bit tensor-core and streaming kernels, 2 bytes a weight), same workload.
if [[ $gpu == 1 && "${KQUANT_BENCH:-0}" == 1 ]]; then
  ok=1
  for way in NATIVE F16; do
    if [[ $(limit 200) == 0 ]]; then
      echo "kquant-bench $way: out of the ${budget} s budget"; ok=0
    elif timeout "$(limit 200)" "$java" "${flags[@]}" -Xmx40g -cp "$cp" io.inferstream.runtime.cli.BenchCommand \
         --device cuda --gpu-kquants "$way" --random-model llama-3.2-1b --type q4_k --requests 32 --prompt-length 128 --output-length 32 \
         --concurrency 16 --kv-precision F16 --kv-cache-memory 8GiB --out "$OUT/kquant-bench-$way" > "$OUT/kquant-bench-$way.log" 2>&1; then
      grep -B1 -A4 '^| mode' "$OUT/kquant-bench-$way.log"
    else
      tail -30 "$OUT/kquant-bench-$way.log"
      ok=0
    fi
  done
  if [[ $ok == 1 ]]; then result kquant-bench PASS "tables in $OUT/kquant-bench-*"; else result kquant-bench FAIL "see $OUT/kquant-bench-*.log"; fi
else
  result kquant-bench SKIP "no GPU or KQUANT_BENCH=0 (opt-in)"
fi

echo "=== stage kernel-profile"
# Nsight Compute times every kernel of one eager decode step and one top-256 step at concurrency 64
# (GpuBench brackets exactly those with cuProfilerStart/Stop), with the DRAM bytes each read and wrote; then a second
# run profiles the first NCU_DETAIL_LAUNCHES (12: two layers) streaming products and attention launches of that step
# in depth (throughput against peak, tensor-pipe and issue-slot use, occupancy, warp stall reasons): what limits the
# products that take most of the c = 64 step. Informational, it never fails the check. The kernels are forced rather
# than chosen at load (the fused epilogues, the grouped products reducing their own sums, the split attention loading
# rows a round ahead, packed weights with 32-row warps, warpgroup MMAs on 9.x devices; no L2 prefetch: ncu flushes the caches before every kernel), so the profile shows the newest kernels whatever the
# load chose. ncu_summary.py prints both.
ncu_bin="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)"
ncu_kernels=(${NCU_KERNELS:--Dinferstream.cuda.skinny=stream -Dinferstream.cuda.skinnyGroup=on -Dinferstream.cuda.attention=split -Dinferstream.cuda.attentionPrefetch=on -Dinferstream.cuda.norm=vec -Dinferstream.cuda.fuseHalves=on -Dinferstream.cuda.fuseRope=on -Dinferstream.cuda.productReduction=on -Dinferstream.cuda.l2PrefetchMiB=0 -Dinferstream.cuda.packedStream=on -Dinferstream.cuda.tallStream=on -Dinferstream.cuda.wgmma=on})
ncu_step() { # ncu options... -> the profiled GpuBench run (one eager c=64 step and one top-256 step), within the budget
  timeout "$(limit 120)" "$ncu_bin" --profile-from-start off --clock-control none "$@" "$java" "${flags[@]}" -Xmx40g -Dinferstream.bench.ncuStep=64 \
    "${ncu_kernels[@]}" -cp "$cp" io.inferstream.runtime.cuda.GpuBench --model /tmp/inferstream-llama-1b-bf16.gguf \
    --device cuda --concurrency 64 --prompt 128 --steps 2 --long-prompt 0
}
step_metrics=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum
if [[ $gpu == 1 && -n "$ncu_bin" && "${NCU_PROFILE:-1}" == 1 && $(limit 120) == 0 ]]; then
  result kernel-prof SKIP "out of the ${budget} s budget (CHECK_BUDGET_S)"
elif [[ $gpu == 1 && -n "$ncu_bin" && "${NCU_PROFILE:-1}" == 1 ]]; then
  if ncu_step --metrics "$step_metrics" -f -o "$OUT/step-c64" > "$OUT/ncu-run.log" 2>&1 \
     && "$ncu_bin" --import "$OUT/step-c64.ncu-rep" --csv --page raw --metrics "$step_metrics" > "$OUT/ncu-c64.csv" 2>&1; then
    python3 "$root/deploy/gpu/ncu_summary.py" step "$OUT/ncu-c64.csv" || true
    result kernel-prof PASS "per-kernel times and DRAM bytes in $OUT/ncu-c64.csv"
  else
    tail -30 "$OUT/ncu-run.log"
    result kernel-prof INFO "ncu did not produce a profile (see $OUT/ncu-run.log); not a check failure"
  fi
  # the same step again, its streaming products and attention in depth (sections; the tensor-pipe metric on top)
  detail=(--kernel-name "regex:matmul_stream|attention_split|attention_tiled" --launch-count "${NCU_DETAIL_LAUNCHES:-12}"
          --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats
          --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis)
  if [[ "${NCU_DETAIL:-1}" != 1 ]]; then
    result kernel-detail INFO "not run (NCU_DETAIL=0)"
  elif [[ $(limit 120) == 0 ]]; then
    result kernel-detail SKIP "out of the ${budget} s budget (CHECK_BUDGET_S)"
  elif { ncu_step "${detail[@]}" --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active \
           -f -o "$OUT/detail-c64" > "$OUT/ncu-detail.log" 2>&1 \
         || { [[ $(limit 90) != 0 ]] && ncu_step "${detail[@]}" -f -o "$OUT/detail-c64" \
                > "$OUT/ncu-detail.log" 2>&1; }; } \
       && "$ncu_bin" --import "$OUT/detail-c64.ncu-rep" --csv --page raw > "$OUT/ncu-detail-c64.csv" 2>&1; then
    python3 "$root/deploy/gpu/ncu_summary.py" detail "$OUT/ncu-detail-c64.csv" || true
    result kernel-detail PASS "sections of the first ${NCU_DETAIL_LAUNCHES:-12} products/attention launches in $OUT/ncu-detail-c64.csv"
  else
    tail -30 "$OUT/ncu-detail.log"
    result kernel-detail INFO "ncu did not produce the detailed profile (see $OUT/ncu-detail.log); not a check failure"
  fi
else
  result kernel-prof SKIP "no GPU or no ncu"
fi
rm -f /tmp/inferstream-llama-1b-bf16.gguf /tmp/inferstream-tiny.gguf

echo "=== summary ($(( $(date +%s) - started )) s)"
cat "$summary"
[[ -f "$OUT/bench.md" ]] && cat "$OUT/bench.md"
exit $failed

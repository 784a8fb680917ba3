#!/usr/bin/env bash
# The streaming job's MiniCluster test with --device cuda on a GPU machine (issue 7's acceptance), run from the
# repository root in a device call right after deploy/gpu/check.sh, with .gpu-jobs/ (prepare-job.sh) carried and
# .gpu/ still there: bash deploy/gpu/check-job.sh. Runs StreamingInferenceJobCudaGpuTest (the job on the GPU)
# and then StreamingInferenceJobTest (the same job on the CPU, which tells a bundle problem from a GPU one).
# Exit status 0 when both passed; logs and JUnit XML in $OUT.
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
OUT="${OUT:-$root/.gpu/out}"
mkdir -p "$OUT"
export INFERSTREAM_MODELS="$root/.gpu/models"
export INFERSTREAM_REPO_ROOT="$root"
java=/tmp/inferstream-jre/jre/bin/java
if [[ ! -x "$java" ]]; then
  [[ -f .gpu/jre.txz ]] || { echo "FAIL: neither /tmp/inferstream-jre nor .gpu/jre.txz is here (run check.sh first, .gpu carried)"; exit 1; }
  mkdir -p /tmp/inferstream-jre && tar -xJf .gpu/jre.txz -C /tmp/inferstream-jre
fi
libs=/tmp/inferstream-jobs
rm -rf "$libs" && mkdir -p "$libs"
tar -xJf .gpu-jobs/lib.txz -C "$libs" 2>/dev/null \
  || python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' .gpu-jobs/lib.txz "$libs"
# the jobs' own jars first: where a library is in both (commons-lang3), the jobs module's version wins, as in Maven
cp="$(ls "$libs"/lib/*.jar | tr '\n' ':')$(ls .gpu/lib/*.jar | tr '\n' ':')"
# jdk.incubator.foreign + native access: the programmatic launches (ProgrammaticLaunch.JVM_FLAGS)
flags=(--add-modules jdk.incubator.vector,jdk.incubator.foreign --enable-native-access=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
       --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED -Xss4m
       -XX:PerMethodTrapLimit=10000)  # as the tests run here (pom.xml's test.argLine; CompilerTrapLimit)
export INFERSTREAM_REQUIRE_GPU=1
failed=0
for cls in StreamingInferenceJobCudaGpuTest StreamingInferenceJobTest; do
  echo "=== $cls"
  timeout 330 "$java" "${flags[@]}" -cp "$cp" org.junit.platform.console.ConsoleLauncher execute --disable-banner \
    --details=tree --reports-dir "$OUT/junit-$cls" --select-class "io.inferstream.jobs.$cls" > "$OUT/$cls.log" 2>&1
  rc=$?
  grep -v "^\s*at \|DEBUG" "$OUT/$cls.log" | grep -E "job ran|results|✔|✘|tests (successful|failed|aborted|skipped)|Exception|Error" | head -40
  ok=$(grep -E "\[ *[0-9]+ tests successful" "$OUT/$cls.log" | grep -oE "[0-9]+" | head -1)
  if [[ $rc -eq 0 && "${ok:-0}" -ge 1 ]]; then echo "$cls PASS"; else echo "$cls FAIL rc=$rc"; failed=1; fi
done
exit $failed

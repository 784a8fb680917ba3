#!/usr/bin/env bash
# Builds .gpu-jobs/ (git-ignored), the second half of the GPU check bundle: what the streaming job's MiniCluster
# test needs beyond .gpu/ (Flink, the Kafka broker, Parquet and Hadoop, our jobs jars). The device tool carries at
# most 64 MiB per call, and Flink + Kafka + Hadoop are 200 MB of jars, so the jars are cut to the packages a CPU run
# of the same test loads classes from (deploy/gpu/slim_jars.py) and packed into one xz stream (~32 MB).
# deploy/gpu/check-job.sh runs it on the GPU machine, in a call right after check.sh's (which unpacked the JRE).
# Usage (repo root, after deploy/gpu/prepare.sh): INFERSTREAM_MODELS=/work/shared/models bash deploy/gpu/prepare-job.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
models="${INFERSTREAM_MODELS:-$root/../shared/models}"
bundle="$root/.gpu-jobs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
limit_mib=45
[[ -d "$root/.gpu/lib" ]] || { echo "[prepare-job] run deploy/gpu/prepare.sh first (.gpu/lib is missing)" >&2; exit 1; }
rm -rf "$bundle"
mkdir -p "$bundle" "$work/lib"

echo "[prepare-job] building the jobs module and its test classes"
mvn -B -ntp -q -pl jobs -am test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$work/cp.txt"
(cd schemas/target/classes && jar cf "$work/lib/inferstream-schemas.jar" .)
(cd jobs/target/classes && jar cf "$work/lib/inferstream-jobs.jar" .)
(cd jobs/target/test-classes && jar cf "$work/lib/inferstream-jobs-tests.jar" .)

echo "[prepare-job] the CPU run of StreamingInferenceJobTest whose class loading decides what the bundle keeps"
console="$(ls "$root"/.gpu/lib/junit-platform-console-standalone-*.jar)"
cp_full="jobs/target/test-classes:jobs/target/classes:$(cat "$work/cp.txt"):$console"
INFERSTREAM_MODELS="$models" java --add-modules jdk.incubator.vector --add-opens=java.base/java.util=ALL-UNNAMED \
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
  -Xlog:class+load=info:file="$work/classload.txt" -cp "$cp_full" org.junit.platform.console.ConsoleLauncher execute \
  --disable-banner --details=summary --select-class io.inferstream.jobs.StreamingInferenceJobTest > "$work/run.log" 2>&1 \
  || { tail -40 "$work/run.log"; echo "[prepare-job] the CPU run failed" >&2; exit 1; }
grep -E "tests (successful|failed)" "$work/run.log"

echo "[prepare-job] slimming the jars .gpu/lib does not already hold"
jars=()
while read -r jar; do
  [[ "$jar" == *.jar ]] || continue
  name="$(basename "$jar")"
  case "$name" in junit-*|opentest4j-*|apiguardian-*|jcuda-*) continue ;; esac
  [[ -f "$root/.gpu/lib/$name" ]] && continue
  grep -q "source: file:$jar" "$work/classload.txt" || continue
  jars+=("$jar")
done < <(tr ':' '\n' < "$work/cp.txt")
python3 deploy/gpu/slim_jars.py "$work/classload.txt" "$work/lib" "${jars[@]}" | tail -5
echo "[prepare-job] packing $(ls "$work/lib" | wc -l) jars ($(du -sh "$work/lib" | cut -f1) stored) into one xz stream"
tar -C "$work" -cf - lib | xz -9 -T2 > "$bundle/lib.txz"

echo "[prepare-job] the same test on the CPU with the bundle's JRE and jars alone (what check-job.sh runs there)"
cp_bundle="$(ls "$work"/lib/*.jar | tr '\n' ':')$(ls "$root"/.gpu/lib/*.jar | tr '\n' ':')"
mkdir -p "$work/jre" && tar -xJf "$root/.gpu/jre.txz" -C "$work/jre"
INFERSTREAM_MODELS="$root/.gpu/models" "$work/jre/jre/bin/java" --add-modules jdk.incubator.vector --add-opens=java.base/java.util=ALL-UNNAMED \
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
  -cp "$cp_bundle" org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=summary \
  --reports-dir "$work/reports" --select-class io.inferstream.jobs.StreamingInferenceJobTest --select-class io.inferstream.jobs.StreamingInferenceJobCudaGpuTest \
  > "$work/bundle-run.log" 2>&1 || { grep -v "^\s*at " "$work/bundle-run.log" | tail -40; echo "[prepare-job] the bundle's jars fail the test" >&2; exit 1; }
grep -E "tests (successful|skipped|failed)" "$work/bundle-run.log"
if grep -q "FactoryConfigurationError\|NoClassDefFoundError" "$work/bundle-run.log"; then
  grep -m3 "FactoryConfigurationError\|NoClassDefFoundError" "$work/bundle-run.log"; echo "[prepare-job] classes missing from the bundle" >&2; exit 1
fi
size_kib=$(du -sk "$bundle" | cut -f1)
echo "[prepare-job] bundle $bundle: $((size_kib / 1024)) MiB (limit ${limit_mib} MiB)"
(( size_kib <= limit_mib * 1024 )) || { echo "[prepare-job] ERROR: bundle larger than ${limit_mib} MiB" >&2; exit 1; }

#!/usr/bin/env bash
# Builds the GPU check bundle into .gpu/ (git-ignored) on a build machine, for deploy/gpu/check.sh to run on a
# GPU machine that has neither Java nor Maven nor ../shared:
#   .gpu/jre.txz        jlink'ed Java 17 runtime (xz)
#   .gpu/lib/*.jar      our main and test jars, runtime deps, JCuda (driver JNI library only), JUnit console
#   .gpu/models/...     stories260K in GGUF and llama2.c form (pass INFERSTREAM_MODELS=.gpu/models there)
# Usage (repo root): INFERSTREAM_MODELS=/work/shared/models bash deploy/gpu/prepare.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
models="${INFERSTREAM_MODELS:-$root/../shared/models}"
bundle="$root/.gpu"
limit_mib=60
console_version=1.14.4
rm -rf "$bundle"
mkdir -p "$bundle/lib" "$bundle/models/stories260K"

if command -v nvcc > /dev/null 2>&1; then
  echo "[prepare] ptxas register/spill check of the kernels (sm_90)"
  bash model-runtime/src/main/cuda/ptx.sh ptxas | tail -1
fi
echo "[prepare] host emulation of the fused kernels against the separate ones (g++)"
bash model-runtime/src/main/cuda/emulate.sh | tail -1
echo "[prepare] building model-runtime jars (tests skipped here; they ran in the normal build)"
mvn -B -ntp -q -pl model-runtime -am package -DskipTests
cp model-runtime/target/inferstream-model-runtime-*-tests.jar "$bundle/lib/"
cp "$(ls model-runtime/target/inferstream-model-runtime-*.jar | grep -v -- '-tests.jar' | head -1)" "$bundle/lib/"

echo "[prepare] collecting dependencies (no Flink/Kafka: model-runtime does not depend on them)"
mvn -B -ntp -q -pl model-runtime dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$bundle/cp.txt"
{ tr ':' '\n' < "$bundle/cp.txt"; echo; } | while read -r jar; do
  [[ -z "$jar" ]] && continue
  name="$(basename "$jar")"
  case "$name" in
    junit-*|opentest4j-*|apiguardian-*) ;;                      # the console launcher bundles these
    jcuda-natives-*)                                            # keep only the driver JNI library (1 MB of 26)
      tmp="$(mktemp -d)"
      (cd "$tmp" && unzip -q "$jar" 'lib/libJCudaDriver-*' && zip -q -r "$bundle/lib/jcuda-natives-driver-only-linux-x86_64.jar" lib)
      rm -rf "$tmp" ;;
    *) cp "$jar" "$bundle/lib/" ;;
  esac
done
rm -f "$bundle/cp.txt"
console="$HOME/.m2/repository/org/junit/platform/junit-platform-console-standalone/$console_version/junit-platform-console-standalone-$console_version.jar"
if [[ ! -f "$console" ]]; then
  mvn -B -ntp -q dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:$console_version
fi
cp "$console" "$bundle/lib/"

# java.desktop: log4j-core uses java.beans.PropertyChangeEvent. The rest is what the streaming job test (Flink
# MiniCluster, Kafka broker, Hadoop's Parquet writer) loads classes from (-Xlog:class+load of a CPU run).
echo "[prepare] jlink Java 17 runtime"
modules=java.base,java.logging,jdk.incubator.vector,jdk.incubator.foreign,java.management,java.xml,jdk.unsupported,java.naming,java.sql,java.desktop
modules=$modules,java.management.rmi,java.rmi,java.security.jgss,java.security.sasl,jdk.jfr,jdk.localedata,jdk.management
modules=$modules,jdk.management.jfr,jdk.net,jdk.security.auth,jdk.crypto.ec,jdk.zipfs
jlink --add-modules "$modules" --include-locales=en,en-US \
  --strip-debug --no-header-files --no-man-pages --compress=0 --output "$bundle/jre"
"$bundle/jre/bin/java" -version 2>&1 | head -1
# uncompressed modules + one xz stream: 17 MB instead of 32 MB for jlink's zip compression + gzip
tar -C "$bundle" -cf - jre | xz -9 -T2 > "$bundle/jre.txz"
rm -rf "$bundle/jre"

echo "[prepare] C/C++ runtime libraries the JRE and JCuda need, for images that lack them (check.sh adds them only then)"
mkdir -p "$bundle/native"
for lib in libstdc++.so.6 libgcc_s.so.1 libz.so.1; do
  cp -L "$(ldconfig -p | grep -m1 "$lib (libc6,x86-64)" | sed 's/.*=> //')" "$bundle/native/$lib"
done
echo "[prepare] note: the jlinked JRE (Debian 12 build) needs glibc >= 2.34 on the GPU machine"

echo "[prepare] stories260K from $models"
cp "$models/stories260K/stories260K.gguf" "$models/stories260K/stories260K.bin" "$models/stories260K/tok512.bin" \
  "$bundle/models/stories260K/"

size_kib=$(du -sk "$bundle" | cut -f1)
ls -la "$bundle" "$bundle/lib"
echo "[prepare] bundle $bundle: $((size_kib / 1024)) MiB (limit ${limit_mib} MiB)"
if (( size_kib > limit_mib * 1024 )); then
  echo "[prepare] ERROR: bundle larger than ${limit_mib} MiB" >&2
  exit 1
fi

#!/usr/bin/env bash
# A real local cluster for InferStream: a Kafka KRaft broker and a Flink session cluster
# (JobManager + one TaskManager), each a child JVM started from the Maven-resolved jars.
#
#   deploy/local/cluster.sh start [kafka|flink|all]   start (default all); prints the endpoints
#   deploy/local/cluster.sh stop                      stop every process (whole process groups)
#   deploy/local/cluster.sh status                    what runs, on which ports
#   deploy/local/cluster.sh env                       endpoints as shell variables
#
# State (PIDs, logs, ports, config, Kafka data) lives in $INFERSTREAM_STATE, default
# <repo>/.inferstream-local/. Ports are chosen free at start and written to $STATE/ports.env.
# Settings: TM_SLOTS (2), TM_PROCESS_MEMORY (2048m), JM_PROCESS_MEMORY (1024m), START_TIMEOUT (120 s),
# TM_JAVA_OPTS (more TaskManager JVM options, e.g. -Dinferstream.cuda.* kernel choices; default none).
# The TaskManager inherits this script's environment (LD_LIBRARY_PATH, CUDA_VISIBLE_DEVICES, ...).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${INFERSTREAM_STATE:-$REPO/.inferstream-local}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
TM_SLOTS="${TM_SLOTS:-2}"
TM_PROCESS_MEMORY="${TM_PROCESS_MEMORY:-2048m}"
JM_PROCESS_MEMORY="${JM_PROCESS_MEMORY:-1024m}"
TM_JAVA_OPTS="${TM_JAVA_OPTS:-}"
START_TIMEOUT="${START_TIMEOUT:-120}"

# The JVM options Flink's own scripts pass on Java 17 (env.java.opts.all of the distribution).
FLINK_JVM_OPENS="--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED \
--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED \
--add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
--add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED \
--add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
--add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED \
--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED"

die() { echo "cluster.sh: $*" >&2; exit 1; }
log() { echo "cluster.sh: $*" >&2; }

# A TCP port nobody listens on (nothing answers a connect), from a random start below the kernel's ephemeral
# range: outgoing connections take their local ports from that range, and a port one of them holds cannot be
# bound although nothing listens on it (seen: Flink's REST endpoint failing on such a port during a build).
free_port() {
  local lo=32768 base=10000
  [ -r /proc/sys/net/ipv4/ip_local_port_range ] && lo="$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range)"
  local span=$(( lo - base ))
  [ "$span" -ge 2000 ] || { base=20000; span=30000; } # an unusual range: fall back to a wide random one
  local p=$(( base + RANDOM % span )) tries=0
  while (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
    p=$(( base + RANDOM % span )); tries=$((tries + 1))
    [ "$tries" -lt 100 ] || die "no free port found"
  done
  echo "$p"
}

alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

classpath() {
  local cp="$STATE/classpath.txt"
  if [ ! -s "$cp" ] || [ "$REPO/deploy/local/pom.xml" -nt "$cp" ] || [ "$REPO/pom.xml" -nt "$cp" ]; then
    log "resolving the Kafka and Flink jars with Maven"
    mvn -B -ntp -q -f "$REPO/deploy/local/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cp" >&2 \
      || die "mvn dependency:build-classpath failed"
  fi
  cat "$cp"
}

# Starts "$@" in its own session (process group = its PID), output to $STATE/logs/$name.out.
spawn() {
  local name="$1"; shift
  setsid "$@" > "$STATE/logs/$name.out" 2>&1 < /dev/null &
  echo $! > "$STATE/$name.pid"
}

wait_for() { # name, command that succeeds when ready
  local name="$1"; shift
  local deadline=$(( $(date +%s) + START_TIMEOUT ))
  until "$@" > /dev/null 2>&1; do
    alive "$name" || die "$name exited during start; see $STATE/logs/$name.out and $STATE/logs/$name.log"
    [ "$(date +%s)" -lt "$deadline" ] || die "$name not ready after ${START_TIMEOUT}s; see $STATE/logs/$name.out"
    sleep 0.5
  done
}

write_log4j() { # file, log file
  cat > "$1" <<L4J
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = $2
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.kafkaorg.name = org.apache.kafka
logger.kafkaorg.level = WARN
L4J
}

start_kafka() {
  alive kafka && { log "kafka already running (pid $(cat "$STATE/kafka.pid"))"; return; }
  local cp; cp="$(classpath)"
  local kport cport; kport="$(free_port)"; cport="$(free_port)"
  mkdir -p "$STATE/kafka"
  cat > "$STATE/kafka/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:$cport
listeners=PLAINTEXT://localhost:$kport,CONTROLLER://localhost:$cport
advertised.listeners=PLAINTEXT://localhost:$kport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$STATE/kafka/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  write_log4j "$STATE/kafka/log4j2.properties" "$STATE/logs/kafka.log"
  local jvm=(-Xmx512m -Dlog4j2.configurationFile="$STATE/kafka/log4j2.properties" -cp "$cp")
  if [ ! -f "$STATE/kafka/data/meta.properties" ]; then
    # Format once: a cluster id and the metadata log. A restart reuses the data.
    local id; id="$("$JAVA" "${jvm[@]}" kafka.tools.StorageTool random-uuid | tail -1)"
    "$JAVA" "${jvm[@]}" kafka.tools.StorageTool format -t "$id" -c "$STATE/kafka/server.properties" \
      > "$STATE/logs/kafka-format.out" 2>&1 || die "kafka storage format failed; see $STATE/logs/kafka-format.out"
  fi
  spawn kafka "$JAVA" "${jvm[@]}" kafka.Kafka "$STATE/kafka/server.properties"
  echo "KAFKA_BOOTSTRAP=localhost:$kport" > "$STATE/kafka.env"
  wait_for kafka bash -c "echo > /dev/tcp/127.0.0.1/$kport"
  log "kafka ready at localhost:$kport (pid $(cat "$STATE/kafka.pid"))"
}

bash_java_utils() { # GET_JM_RESOURCE_PARAMS | GET_TM_RESOURCE_PARAMS -> lines of results
  "$JAVA" -cp "$1" org.apache.flink.runtime.util.bash.BashJavaUtils "$2" --configDir "$STATE/flink/conf" 2>&1 \
    | sed -n 's/^BASH_JAVA_UTILS_EXEC_RESULT://p'
}

start_flink() {
  alive jobmanager && { log "flink already running (jobmanager pid $(cat "$STATE/jobmanager.pid"))"; return; }
  local cp; cp="$(classpath)"
  local rest rpc blob tmrpc tmdata; rest="$(free_port)"; rpc="$(free_port)"; blob="$(free_port)"
  mkdir -p "$STATE/flink/conf" "$STATE/flink/tmp" "$STATE/flink/checkpoints"
  cat > "$STATE/flink/conf/config.yaml" <<YAML
jobmanager:
  rpc: {address: localhost, port: $rpc}
  bind-host: localhost
  memory: {process.size: $JM_PROCESS_MEMORY}
taskmanager:
  host: localhost
  bind-host: localhost
  numberOfTaskSlots: $TM_SLOTS
  memory: {process.size: $TM_PROCESS_MEMORY}
rest: {address: localhost, bind-address: localhost, port: $rest}
blob.server.port: $blob
io.tmp.dirs: $STATE/flink/tmp
web.tmpdir: $STATE/flink/tmp
execution.checkpointing.dir: file://$STATE/flink/checkpoints
parallelism.default: 1
# JCuda comes from the cluster's class path (deploy/local/pom.xml), not from each job's jar: a JVM loads a native
# library for one class loader only, and Flink gives every submitted job a class loader of its own.
classloader.parent-first-patterns.additional: [jcuda.]
YAML
  write_log4j "$STATE/flink/conf/log4j.properties" "\${sys:log.file}"
  local jm_params tm_params
  jm_params="$(bash_java_utils "$cp" GET_JM_RESOURCE_PARAMS)" || die "BashJavaUtils GET_JM_RESOURCE_PARAMS failed"
  tm_params="$(bash_java_utils "$cp" GET_TM_RESOURCE_PARAMS)" || die "BashJavaUtils GET_TM_RESOURCE_PARAMS failed"
  local jm_jvm jm_dyn tm_jvm tm_dyn
  jm_jvm="$(sed -n 1p <<< "$jm_params")"; jm_dyn="$(sed -n 2p <<< "$jm_params")"
  tm_jvm="$(sed -n 1p <<< "$tm_params")"; tm_dyn="$(sed -n 2p <<< "$tm_params")"
  [ -n "$jm_jvm" ] && [ -n "$tm_jvm" ] || die "BashJavaUtils gave no memory options; config: $STATE/flink/conf/config.yaml"
  local logconf="-Dlog4j.configurationFile=$STATE/flink/conf/log4j.properties -Dlog4j2.configurationFile=$STATE/flink/conf/log4j.properties"
  # shellcheck disable=SC2086  # the option strings are lists of words by design
  spawn jobmanager "$JAVA" $jm_jvm $FLINK_JVM_OPENS -Dlog.file="$STATE/logs/jobmanager.log" $logconf -cp "$cp" \
    org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint --configDir "$STATE/flink/conf" $jm_dyn
  # The foreign-function API for programmatic kernel launches on Hopper GPUs (ProgrammaticLaunch.JVM_FLAGS): Java 17's
  # incubator module; from Java 21 java.lang.foreign, which only needs native access allowed (else a warning).
  local foreign="" modules feature
  modules="$("$JAVA" --list-modules 2>/dev/null || true)"
  feature="$(sed -n 's/^java\.base@\([0-9]*\).*/\1/p' <<< "$modules")"
  if grep -q '^jdk.incubator.foreign@' <<< "$modules"; then
    foreign="--add-modules jdk.incubator.foreign --enable-native-access=ALL-UNNAMED"
  elif [[ "$feature" =~ ^[0-9]+$ ]] && (( feature >= 21 )); then
    foreign="--enable-native-access=ALL-UNNAMED"
  fi
  # The JIT's trap limit the CPU kernels need on Java 17 (CompilerTrapLimit.FLAG), before TM_JAVA_OPTS, which may override it.
  # shellcheck disable=SC2086
  spawn taskmanager "$JAVA" $tm_jvm $FLINK_JVM_OPENS --add-modules jdk.incubator.vector -XX:PerMethodTrapLimit=10000 $foreign \
    $TM_JAVA_OPTS \
    -Dlog.file="$STATE/logs/taskmanager.log" $logconf -cp "$cp" \
    org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$STATE/flink/conf" $tm_dyn
  echo "FLINK_REST=localhost:$rest" > "$STATE/flink.env"
  wait_for jobmanager curl -sf "http://localhost:$rest/overview"
  wait_for taskmanager bash -c "curl -sf http://localhost:$rest/overview | grep -q '\"taskmanagers\":[1-9]'"
  log "flink ready: REST and web UI at http://localhost:$rest (jobmanager pid $(cat "$STATE/jobmanager.pid"), taskmanager pid $(cat "$STATE/taskmanager.pid"))"
}

ports_env() {
  cat "$STATE"/kafka.env "$STATE"/flink.env 2>/dev/null > "$STATE/ports.env" || true
}

stop_one() {
  local name="$1" pid
  [ -f "$STATE/$name.pid" ] || return 0
  pid="$(cat "$STATE/$name.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored TERM; killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  # Anything left in the process group (forked helpers) goes too.
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$STATE/$name.pid"
  log "$name stopped"
}

status() {
  local rc=0
  for name in kafka jobmanager taskmanager; do
    if alive "$name"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: stopped"; rc=3; fi
  done
  [ -f "$STATE/ports.env" ] && cat "$STATE/ports.env"
  if [ -f "$STATE/flink.env" ]; then echo "FLINK_WEB_UI=http://$(sed 's/^FLINK_REST=//' "$STATE/flink.env")"; fi
  return $rc
}

mkdir -p "$STATE/logs"
case "${1:-}" in
  start)
    what="${2:-all}"
    case "$what" in
      kafka) start_kafka ;;
      flink) start_flink ;;
      all) start_kafka; start_flink ;;
      *) die "start what? kafka, flink or all (got '$what')" ;;
    esac
    ports_env
    cat "$STATE/ports.env"
    ;;
  stop)
    stop_one taskmanager; stop_one jobmanager; stop_one kafka
    rm -f "$STATE/ports.env" "$STATE/kafka.env" "$STATE/flink.env"
    ;;
  status) status ;;
  env) cat "$STATE/ports.env" ;;
  *) die "usage: cluster.sh start [kafka|flink|all] | stop | status | env" ;;
esac

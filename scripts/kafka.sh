#!/usr/bin/env bash
# Starts and stops the Apache Kafka broker (KRaft mode, no ZooKeeper) that
# the integration tests run against.
#
#   scripts/kafka.sh start [--brokers N]  fetch Kafka if needed, format fresh
#                                         storage, start N nodes (default 1),
#                                         wait until each answers
#   scripts/kafka.sh stop                 stop every node by PID, drop the data
#   scripts/kafka.sh status               list the nodes and their PIDs
#   scripts/kafka.sh env                  print the variables the tests read
#   scripts/kafka.sh kill ID              SIGKILL node ID (tests: a crash)
#   scripts/kafka.sh stop-node ID         SIGTERM node ID, wait for its exit
#   scripts/kafka.sh start-node ID        start node ID again on its data
#   scripts/kafka.sh up                   start again every node that is down
#   scripts/kafka.sh fetch                only fetch the jars
#
# Node i (1-based) is broker and controller at once: clients connect to
# 127.0.0.1:$((KAFKA_PORT+i-1)) (default 19092, 19093, ...), the controller
# quorum listens on $((KAFKA_CONTROLLER_PORT+i-1)) (default 19192, ...). Both
# stay below 32768, where the kernel hands out ephemeral client ports.
#
# Environment:
#   MARKETFEED_KAFKA_DIR    state: configuration, data, logs, PIDs
#                           (default ${TMPDIR:-/tmp}/marketfeed-kafka)
#   MARKETFEED_KAFKA_CACHE  fetched jars, kept between runs
#                           (default ${XDG_CACHE_HOME:-$HOME/.cache}/marketfeed-kafka)
#   KAFKA_PORT, KAFKA_CONTROLLER_PORT  first client and controller port
#   KAFKA_HEAP              JVM heap options (default -Xms256m -Xmx1g)
#
# The Kafka version is pinned in scripts/kafka-broker/pom.xml; its log goes to
# $MARKETFEED_KAFKA_DIR/node-ID/kafka.log (scripts/kafka-broker/log4j2.properties).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
pom="$here/kafka-broker/pom.xml"
log4j="$here/kafka-broker/log4j2.properties"
dir="${MARKETFEED_KAFKA_DIR:-${TMPDIR:-/tmp}/marketfeed-kafka}"
cache="${MARKETFEED_KAFKA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/marketfeed-kafka}"
port0="${KAFKA_PORT:-19092}"
cport0="${KAFKA_CONTROLLER_PORT:-19192}"
heap="${KAFKA_HEAP:--Xms256m -Xmx1g}"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
libs="$cache/kafka-$version-$(cksum <"$pom" | cut -d' ' -f1)"

die() { echo "kafka.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

fetch() {
  if [ -f "$libs/.complete" ]; then return; fi
  command -v mvn >/dev/null || die "mvn not found (Maven is needed to fetch Kafka)"
  command -v java >/dev/null || die "java not found (Kafka $version needs Java 17 or newer)"
  local t0; t0=$(now_ms)
  rm -rf "$libs.tmp"
  mkdir -p "$cache"
  mvn -B -q -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$cache/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs.tmp" \
    || die "fetching Kafka $version from Maven Central failed"
  touch "$libs.tmp/.complete"
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  echo "kafka.sh: fetched Kafka $version: $(ls "$libs" | wc -l) jars, $(du -sh "$libs" | cut -f1) in $(( ($(now_ms) - t0) ))ms"
}

nodes() { cat "$dir/nodes" 2>/dev/null || echo 0; }
pidfile() { echo "$dir/node-$1/pid"; }
alive() { local f; f=$(pidfile "$1"); [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

configure() { # id count cluster_id
  local id=$1 n=$2 voters="" i
  for i in $(seq 1 "$n"); do voters="${voters:+$voters,}$i@127.0.0.1:$((cport0 + i - 1))"; done
  local rf=$(( n < 3 ? n : 3 )) isr=$(( n < 3 ? 1 : 2 ))
  mkdir -p "$dir/node-$id/data"
  cat >"$dir/node-$id/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$((port0 + id - 1)),CONTROLLER://127.0.0.1:$((cport0 + id - 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$((port0 + id - 1))
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/node-$id/data
num.partitions=1
default.replication.factor=$rf
auto.create.topics.enable=false
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
group.initial.rebalance.delay.ms=0
# Tests of retention wait for the cleaner: check often.
log.retention.check.interval.ms=1000
log.cleaner.backoff.ms=1000
log.initial.task.delay.ms=1000
# Quick leader changes when a node dies.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
controlled.shutdown.enable=true
EOF
  java -cp "$libs/*" kafka.tools.StorageTool format --ignore-formatted \
    --cluster-id="$3" -c "$dir/node-$id/server.properties" >"$dir/node-$id/format.log" 2>&1 \
    || { cat "$dir/node-$id/format.log" >&2; die "formatting node $id failed"; }
}

launch() { # id
  local id=$1
  alive "$id" && die "node $id already runs (PID $(cat "$(pidfile "$id")"))"
  # A fresh log per run of the node: answers() looks for its start line.
  [ ! -f "$dir/node-$id/kafka.log" ] || mv "$dir/node-$id/kafka.log" "$dir/node-$id/kafka.log.$(date +%s%N)"
  # shellcheck disable=SC2086
  nohup java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$log4j" -Dkafka.log.file="$dir/node-$id/kafka.log" \
    -Dkafka.logs.dir="$dir/node-$id" \
    -cp "$libs/*" kafka.Kafka "$dir/node-$id/server.properties" \
    >>"$dir/node-$id/stdout.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$id")"
}

# answers ID: the node accepts connections and has logged its start.
answers() {
  local id=$1
  (exec 3<>"/dev/tcp/127.0.0.1/$((port0 + id - 1))") 2>/dev/null &&
    grep -q "Kafka Server started" "$dir/node-$id/kafka.log" 2>/dev/null
}

await() { # id...
  local id deadline=$(( $(date +%s) + ${KAFKA_START_TIMEOUT:-120} ))
  for id in "$@"; do
    until answers "$id"; do
      alive "$id" || { tail -30 "$dir/node-$id/kafka.log" "$dir/node-$id/stdout.log" >&2 || true; die "node $id exited during start"; }
      [ "$(date +%s)" -lt "$deadline" ] || die "node $id did not answer within ${KAFKA_START_TIMEOUT:-120}s"
      sleep 0.2
    done
  done
}

rss() { # id → RSS in MiB
  awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/$(cat "$(pidfile "$1")")/status" 2>/dev/null || echo "?"
}

brokers() {
  local n i out=""
  n=$(nodes)
  for i in $(seq 1 "$n"); do out="${out:+$out,}127.0.0.1:$((port0 + i - 1))"; done
  echo "$out"
}

print_env() {
  echo "export MARKETFEED_KAFKA_BROKERS=$(brokers)"
  echo "export MARKETFEED_KAFKA_DIR=$dir"
}

stop_node() { # id signal
  local id=$1 sig=$2 pid i
  alive "$id" || { rm -f "$(pidfile "$id")"; return 0; }
  pid=$(cat "$(pidfile "$id")")
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka.sh: node $id (PID $pid) ignored SIG$sig for 30s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$(pidfile "$id")"
}

cmd_start() {
  local n=1
  while [ $# -gt 0 ]; do
    case "$1" in
      --brokers) n="${2:?--brokers needs a count}"; shift 2 ;;
      --brokers=*) n="${1#*=}"; shift ;;
      *) die "start: unknown argument $1" ;;
    esac
  done
  [[ "$n" =~ ^[1-9]$ ]] || die "start: --brokers must be 1..9"
  local i
  for i in $(seq 1 "$(nodes)"); do alive "$i" && die "already running ($(brokers)); run: $0 stop"; done
  fetch
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "$n" >"$dir/nodes"
  local t0 cluster
  t0=$(now_ms)
  cluster=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  for i in $(seq 1 "$n"); do configure "$i" "$n" "$cluster"; done
  local t1; t1=$(now_ms)
  for i in $(seq 1 "$n"); do launch "$i"; done
  await $(seq 1 "$n")
  local t2; t2=$(now_ms)
  local r=""
  for i in $(seq 1 "$n"); do r="$r node $i PID $(cat "$(pidfile "$i")") RSS $(rss "$i")MiB;"; done
  echo "kafka.sh: Kafka $version up on $(brokers) (format $((t1 - t0))ms, start $((t2 - t1))ms);$r"
  print_env
}

cmd_stop() {
  # SIGTERM to every node at once (one after the other, the last would wait
  # for a controller quorum that is gone), then SIGKILL what is left after
  # ${KAFKA_STOP_TIMEOUT:-20}s.
  local n i pids=() deadline
  n=$(nodes)
  for i in $(seq 1 "$n"); do
    if alive "$i"; then pids+=("$(cat "$(pidfile "$i")")"); kill -TERM "${pids[-1]}" 2>/dev/null || true; fi
  done
  deadline=$(( $(date +%s) + ${KAFKA_STOP_TIMEOUT:-20} ))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "kafka.sh: PID $pid still running after SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  done
  rm -rf "$dir"
}

cmd_status() {
  local n i
  n=$(nodes)
  [ "$n" -gt 0 ] || { echo "kafka.sh: not started"; return 0; }
  for i in $(seq 1 "$n"); do
    if alive "$i"; then echo "node $i 127.0.0.1:$((port0 + i - 1)) PID $(cat "$(pidfile "$i")") RSS $(rss "$i")MiB"
    else echo "node $i 127.0.0.1:$((port0 + i - 1)) stopped"; fi
  done
}

node_arg() {
  [[ "${1:-}" =~ ^[1-9]$ ]] && [ "$1" -le "$(nodes)" ] || die "no node ${1:-} (nodes 1..$(nodes))"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_env ;;
  fetch) fetch ;;
  kill) node_arg "${2:-}"; stop_node "$2" KILL ;;
  stop-node) node_arg "${2:-}"; stop_node "$2" TERM ;;
  start-node) node_arg "${2:-}"; t0=$(now_ms); launch "$2"; await "$2"
    echo "kafka.sh: node $2 up in $(( $(now_ms) - t0 ))ms" ;;
  up) down=""; for i in $(seq 1 "$(nodes)"); do alive "$i" || { launch "$i"; down="$down $i"; }; done
    [ -z "$down" ] || { await $down; echo "kafka.sh: started node(s)$down again"; } ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

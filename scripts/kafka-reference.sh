#!/usr/bin/env bash
# Apache Kafka as a reference broker: a single-node KRaft Kafka 4.x on
# loopback, from Maven Central jars (tests/kafka/java/server/pom.xml,
# resolved once into tmp/kafka-clients/kafka-server-lib) on Java 17.
# Used by scripts/test-kafka-clients.sh --against kafka and by side-by-side
# benchmarks. Owns only the reference broker: its jars, config, start, stop.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB="$REPO_ROOT/tmp/kafka-clients/kafka-server-lib"
POM="$REPO_ROOT/tests/kafka/java/server/pom.xml"
START_WAIT_S=90
STOP_WAIT_S=30

usage() {
    cat <<EOF
Usage: $(basename "$0") start DIR [--port N] [--partitions N] [--flush-every-message]
                           [--request-log] [--set KEY=VALUE]...
       $(basename "$0") stop DIR [--keep-logs]
       $(basename "$0") kill DIR | resume DIR
       $(basename "$0") jars

start: writes DIR/server.properties, formats DIR/data with the StorageTool,
  starts kafka.Kafka in the background (pid in DIR/kafka.pid, log in
  DIR/kafka.log), waits until it serves and prints the bootstrap address
  (also in DIR/bootstrap). --port defaults to a free port;
  --partitions sets num.partitions (auto-created topics, default 1);
  --flush-every-message sets log.flush.interval.messages=1 (fsync before
  acknowledging); --request-log logs every request (API key, version,
  client) to DIR/requests.log; --set adds any broker property. JVM options from
  KAFKA_JAVA_OPTS (default: -Xms256m -Xmx1g).
stop: kills the broker (TERM, then KILL after ${STOP_WAIT_S}s) and removes
  DIR, or with --keep-logs everything in DIR but kafka.log.
kill: SIGKILLs the broker and keeps DIR; resume: starts it again on the same
  data, config and port and waits until it serves (a crash and a restart,
  for fault tests such as scripts/kafka-verifiable.sh).
jars: resolves the jars (Kafka's broker and tools, kafka-tools'
  VerifiableProducer among them) and prints their directory.

Example:
  scripts/kafka-reference.sh start tmp/kafka-ref --port 19092
  scripts/kafka-reference.sh stop tmp/kafka-ref
EOF
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ensure_jars() {
    [[ -f "$LIB/.complete" ]] && return 0
    echo "kafka-reference: resolving Kafka jars into $LIB" >&2
    rm -rf "$LIB"
    mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$LIB" >&2
    touch "$LIB/.complete"
}

start() {
    local dir="$1"; shift
    local port="" partitions=1 flush=0 request_log=0 extra=()
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --port) port="$2"; shift 2 ;;
            --partitions) partitions="$2"; shift 2 ;;
            --flush-every-message) flush=1; shift ;;
            --request-log) request_log=1; shift ;;
            --set) extra+=("$2"); shift 2 ;;
            *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
        esac
    done
    if [[ -f "$dir/kafka.pid" ]] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
        echo "kafka-reference: already running in $dir (pid $(cat "$dir/kafka.pid"))" >&2
        exit 1
    fi
    ensure_jars
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    rm -rf "$dir/data"
    [[ -n "$port" ]] || port="$(free_port)"
    local controller_port; controller_port="$(free_port)"

    cat > "$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=$partitions
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    [[ $flush -eq 1 ]] && echo "log.flush.interval.messages=1" >> "$dir/server.properties"
    for kv in "${extra[@]}"; do echo "$kv" >> "$dir/server.properties"; done

    cat > "$dir/log4j2.properties" <<EOF
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
    if [[ $request_log -eq 1 ]]; then
        cat >> "$dir/log4j2.properties" <<EOF
appender.requests.type = File
appender.requests.name = requests
appender.requests.fileName = $dir/requests.log
appender.requests.layout.type = PatternLayout
appender.requests.layout.pattern = %m%n
logger.requests.name = kafka.request.logger
logger.requests.level = DEBUG
logger.requests.additivity = false
logger.requests.appenderRef.requests.ref = requests
EOF
    fi

    local java_cmd=(java ${KAFKA_JAVA_OPTS:--Xms256m -Xmx1g}
        -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$LIB/*")
    local cluster_id
    cluster_id="$(python3 -c 'import uuid,base64; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')"
    "${java_cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
        -c "$dir/server.properties" > "$dir/format.log" 2>&1 \
        || { cat "$dir/format.log" >&2; exit 1; }

    launch "$dir"
    echo "127.0.0.1:$port" > "$dir/bootstrap"
    echo "127.0.0.1:$port"
}

# Starts kafka.Kafka on DIR's config and data in the background and waits
# until it logs that it serves (counting only the lines this start adds).
launch() {
    local dir="$1"
    local java_cmd=(java ${KAFKA_JAVA_OPTS:--Xms256m -Xmx1g}
        -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$LIB/*")
    local started_before
    started_before="$(grep -c "Kafka Server started" "$dir/kafka.log" 2>/dev/null || true)"
    # setsid: its own process group, so stop can end the JVM and nothing else
    setsid "${java_cmd[@]}" kafka.Kafka "$dir/server.properties" \
        >> "$dir/kafka.out" 2>&1 < /dev/null &
    echo $! > "$dir/kafka.pid"

    local deadline=$((SECONDS + START_WAIT_S))
    until (( $(grep -c "Kafka Server started" "$dir/kafka.log" 2>/dev/null || true) > ${started_before:-0} )); do
        if ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
            echo "kafka-reference: broker exited during start; last lines:" >&2
            tail -20 "$dir/kafka.out" "$dir/kafka.log" >&2 2>/dev/null || true
            exit 1
        fi
        if (( SECONDS > deadline )); then
            echo "kafka-reference: not started after ${START_WAIT_S}s" >&2
            stop "$dir" --keep-logs
            exit 1
        fi
        sleep 0.5
    done
}

crash() {
    local dir="$1"
    local pid; pid="$(cat "$dir/kafka.pid")"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

resume() {
    local dir; dir="$(cd "$1" && pwd)"
    if kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
        echo "kafka-reference: already running in $dir" >&2
        exit 1
    fi
    ensure_jars
    launch "$dir"
}

stop() {
    local dir="$1" keep_logs=0
    [[ "${2:-}" == "--keep-logs" ]] && keep_logs=1
    [[ -d "$dir" ]] || return 0
    if [[ -f "$dir/kafka.pid" ]]; then
        local pid; pid="$(cat "$dir/kafka.pid")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            local deadline=$((SECONDS + STOP_WAIT_S))
            while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    if [[ $keep_logs -eq 1 ]]; then
        find "$dir" -mindepth 1 -maxdepth 1 ! -name kafka.log -exec rm -rf {} +
    else
        rm -rf "$dir"
    fi
}

case "${1:-}" in
    start) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; shift; start "$@" ;;
    stop) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; shift; stop "$@" ;;
    kill) [[ $# -eq 2 ]] || { usage >&2; exit 2; }; crash "$2" ;;
    resume) [[ $# -eq 2 ]] || { usage >&2; exit 2; }; resume "$2" ;;
    jars) ensure_jars; echo "$LIB" ;;
    -h|--help) usage ;;
    *) usage >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Loss check under faults, the way Kafka's own system tests do it: Kafka's
# VerifiableProducer (acks=-1) and VerifiableConsumers in a classic group
# (org.apache.kafka:kafka-tools from Maven Central, resolved by
# scripts/kafka-reference.sh jars) run against the broker while it is
# SIGKILLed and restarted every few seconds on the same ports and data;
# scripts/kafka-verifiable-check.py then checks that every acknowledged
# (partition, offset) was consumed with its value. Owns its run directory
# (tmp/kafka-verifiable by default) and the processes it starts there.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AGAINST=shardlog
DURATION_S=120
KILL_EVERY_S=5
PARTITIONS=4
CONSUMERS=2
THROUGHPUT=2000
CATCH_UP_S=60
IDEMPOTENCE=0
KEEP=0
RUN_DIR="$REPO_ROOT/tmp/kafka-verifiable"
SHARDLOG_BIN="${SHARDLOG_BIN:-$REPO_ROOT/target/debug/shardlog}"
CORES=2
READY_WAIT_S=60
PRODUCER_STOP_WAIT_S=60
SESSION_TIMEOUT_MS=10000
TOPIC=verifiable
GROUP=verifiable-group

usage() {
    cat <<EOF
Usage: $(basename "$0") [--against shardlog|kafka] [--duration S] [--kill-every S]
                        [--partitions N] [--consumers N] [--throughput N]
                        [--catch-up S] [--idempotence] [--dir DIR] [--keep]

Runs Kafka's VerifiableProducer (acks=-1, --throughput records/s, keys
0..99 so every partition gets records) and --consumers VerifiableConsumers
in one classic group (commit after each poll) on a --partitions topic for
--duration seconds, SIGKILLing the broker every --kill-every seconds
(0: never) and restarting it on the same ports and data. Then stops the
producer, waits until the consumers have read every acknowledged record or
made no progress for --catch-up seconds, and prints: acked, consumed,
duplicates (allowed), lost (acked but never consumed, or consumed with
another value at its offset), restarts. Exits 1 when a record is lost.

--against shardlog (default): SHARDLOG_BIN (default target/debug/shardlog,
  not built here), $CORES cores, fixed free ports.
--against kafka: Apache Kafka 4.x from scripts/kafka-reference.sh (fsync
  per message), killed and resumed the same way: shows that the check
  agrees with Kafka.
--idempotence: enable.idempotence=true with retries (needs InitProducerId),
  and a value stored at two offsets fails the check; by default the
  producer runs with enable.idempotence=false and VerifiableProducer's
  retries=0.
--dir: run directory (default tmp/kafka-verifiable; emptied first); --keep
  keeps it (the tools' event files, logs, broker data) after a pass.

Defaults: --duration $DURATION_S --kill-every $KILL_EVERY_S --partitions $PARTITIONS \
--consumers $CONSUMERS --throughput $THROUGHPUT --catch-up $CATCH_UP_S

Examples:
  SHARDLOG_BIN=target/release/shardlog scripts/kafka-verifiable.sh --duration 300
  scripts/kafka-verifiable.sh --against kafka --duration 60 --kill-every 20
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --against) AGAINST="$2"; shift 2 ;;
        --duration) DURATION_S="$2"; shift 2 ;;
        --kill-every) KILL_EVERY_S="$2"; shift 2 ;;
        --partitions) PARTITIONS="$2"; shift 2 ;;
        --consumers) CONSUMERS="$2"; shift 2 ;;
        --throughput) THROUGHPUT="$2"; shift 2 ;;
        --catch-up) CATCH_UP_S="$2"; shift 2 ;;
        --idempotence) IDEMPOTENCE=1; shift ;;
        --dir) RUN_DIR="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
for n in "$DURATION_S" "$KILL_EVERY_S" "$PARTITIONS" "$CONSUMERS" "$THROUGHPUT" "$CATCH_UP_S"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "not a number: $n" >&2; exit 2; }
done
case "$AGAINST" in shardlog|kafka) ;; *) echo "--against: shardlog or kafka" >&2; exit 2 ;; esac
if [[ "$AGAINST" == shardlog && ! -x "$SHARDLOG_BIN" ]]; then
    echo "no broker binary at $SHARDLOG_BIN (set SHARDLOG_BIN or cargo build)" >&2
    exit 2
fi

LIB="$("$REPO_ROOT/scripts/kafka-reference.sh" jars)"
mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
rm -rf "${RUN_DIR:?}"/*
JAVA=(java -Xmx256m -Dlog4j2.configurationFile="$RUN_DIR/log4j2.properties" -cp "$LIB/*")
# The tools log to stderr; only warnings, so their files stay readable.
cat > "$RUN_DIR/log4j2.properties" <<EOF
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
EOF

BROKER_PID=""
PRODUCER_PID=""
CONSUMER_PIDS=()
BOOTSTRAP=""
RESTARTS=0
PASSED=0
CHECK_ARGS=()

free_ports() {  # a base port P with P..P+$1-1 all free
    python3 - "$1" <<'EOF'
import socket, sys
n = int(sys.argv[1])
for _ in range(200):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); base = s.getsockname()[1]; s.close()
    if base + n > 65535: continue
    try:
        held = []
        for p in range(base, base + n):
            t = socket.socket(); t.bind(("127.0.0.1", p)); held.append(t)
        for t in held: t.close()
        print(base); break
    except OSError:
        for t in held: t.close()
else:
    sys.exit("no free port range")
EOF
}

# --- the broker: start, crash, resume -------------------------------------

shardlog_start() {
    rm -f "$RUN_DIR/ready"
    "$SHARDLOG_BIN" serve --data-dir "$RUN_DIR/data" --listen "127.0.0.1:$NATIVE_PORT" \
        --kafka-listen "127.0.0.1:$KAFKA_PORT" --cores "$CORES" --ready-file "$RUN_DIR/ready" \
        >> "$RUN_DIR/broker.log" 2>&1 < /dev/null &
    BROKER_PID=$!
    local deadline=$((SECONDS + READY_WAIT_S))
    until grep -q '^kafka ' "$RUN_DIR/ready" 2>/dev/null; do
        kill -0 "$BROKER_PID" 2>/dev/null \
            || { echo "shardlog exited at start:" >&2; tail -20 "$RUN_DIR/broker.log" >&2; return 1; }
        (( SECONDS < deadline )) || { echo "shardlog not ready after ${READY_WAIT_S}s" >&2; return 1; }
        sleep 0.05
    done
}

broker_start() {
    case "$AGAINST" in
        shardlog)
            local base; base="$(free_ports $((CORES * 2 + 1)))"
            KAFKA_PORT=$base
            NATIVE_PORT=$((base + CORES))   # native: this port, then core i on +1+i
            shardlog_start
            BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
            ;;
        kafka)
            BOOTSTRAP="$("$REPO_ROOT/scripts/kafka-reference.sh" start "$RUN_DIR/kafka" \
                --flush-every-message --partitions "$PARTITIONS")"
            ;;
    esac
}

broker_crash_and_resume() {
    case "$AGAINST" in
        shardlog)
            kill -KILL "$BROKER_PID" 2>/dev/null || true
            wait "$BROKER_PID" 2>/dev/null || true
            echo "--- SIGKILL at $(date +%T.%N), restart $((RESTARTS + 1))" >> "$RUN_DIR/broker.log"
            shardlog_start
            ;;
        kafka)
            "$REPO_ROOT/scripts/kafka-reference.sh" kill "$RUN_DIR/kafka"
            "$REPO_ROOT/scripts/kafka-reference.sh" resume "$RUN_DIR/kafka"
            ;;
    esac
    RESTARTS=$((RESTARTS + 1))
}

broker_stop() {
    case "$AGAINST" in
        shardlog)
            if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
                kill -TERM "$BROKER_PID"
                wait "$BROKER_PID" 2>/dev/null || true
            fi
            ;;
        kafka) "$REPO_ROOT/scripts/kafka-reference.sh" stop "$RUN_DIR/kafka" --keep-logs ;;
    esac
}

# --- the tools --------------------------------------------------------------

stop_pid() {  # TERM (the tools' shutdown hooks close their clients), then KILL
    local pid="$1" wait_s="$2"
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + wait_s))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    for pid in "${CONSUMER_PIDS[@]}" $PRODUCER_PID; do stop_pid "$pid" 5; done
    broker_stop
    if [[ $PASSED -eq 1 && $KEEP -eq 0 ]]; then
        rm -rf "${RUN_DIR:?}"
    else
        echo "kafka-verifiable: files kept in $RUN_DIR"
    fi
}
trap cleanup EXIT

started=$SECONDS
broker_start
echo "kafka-verifiable: $AGAINST at $BOOTSTRAP; topic $TOPIC ($PARTITIONS partitions)," \
     "${DURATION_S}s, kill every ${KILL_EVERY_S}s, $CONSUMERS consumers, ${THROUGHPUT}/s"

"${JAVA[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --create \
    --topic "$TOPIC" --partitions "$PARTITIONS" --replication-factor 1 > "$RUN_DIR/topic.log" 2>&1 \
    || { cat "$RUN_DIR/topic.log" >&2; exit 1; }

for ((i = 0; i < CONSUMERS; i++)); do
    "${JAVA[@]}" org.apache.kafka.tools.VerifiableConsumer --bootstrap-server "$BOOTSTRAP" \
        --topic "$TOPIC" --group-id "$GROUP" --group-protocol classic --verbose \
        --session-timeout "$SESSION_TIMEOUT_MS" --reset-policy earliest \
        > "$RUN_DIR/consumer-$i.jsonl" 2> "$RUN_DIR/consumer-$i.log" < /dev/null &
    CONSUMER_PIDS+=($!)
done

# VerifiableProducer sets retries=0 (Kafka's system tests count on it); an
# idempotent producer needs retries, and then must not write a record twice.
if [[ $IDEMPOTENCE -eq 1 ]]; then
    printf 'enable.idempotence=true\nretries=2147483647\n' > "$RUN_DIR/producer.properties"
    CHECK_ARGS+=(--idempotent)
else
    printf 'enable.idempotence=false\n' > "$RUN_DIR/producer.properties"
fi
"${JAVA[@]}" org.apache.kafka.tools.VerifiableProducer --bootstrap-server "$BOOTSTRAP" \
    --topic "$TOPIC" --acks -1 --throughput "$THROUGHPUT" --repeating-keys 100 \
    --producer.config "$RUN_DIR/producer.properties" \
    > "$RUN_DIR/producer.jsonl" 2> "$RUN_DIR/producer.log" < /dev/null &
PRODUCER_PID=$!

# The faults: a SIGKILL every KILL_EVERY_S seconds until the duration ends.
faults_end=$((SECONDS + DURATION_S))
while (( SECONDS < faults_end )); do
    step=$((faults_end - SECONDS))
    (( KILL_EVERY_S > 0 && KILL_EVERY_S < step )) && step=$KILL_EVERY_S
    sleep "$step"
    kill -0 "$PRODUCER_PID" 2>/dev/null \
        || { echo "the producer exited early:" >&2; tail -20 "$RUN_DIR/producer.log" >&2; exit 1; }
    if (( KILL_EVERY_S > 0 && SECONDS < faults_end )); then
        broker_crash_and_resume
    fi
done

for ((i = 0; i < CONSUMERS; i++)); do
    if ! kill -0 "${CONSUMER_PIDS[$i]}" 2>/dev/null; then
        echo "consumer $i exited during the run (its records would look lost):" >&2
        tail -20 "$RUN_DIR/consumer-$i.log" >&2
        exit 1
    fi
done
stop_pid "$PRODUCER_PID" "$PRODUCER_STOP_WAIT_S"
PRODUCER_PID=""
echo "kafka-verifiable: producer stopped after $((SECONDS - started))s, $RESTARTS restarts;" \
     "waiting for the consumers (at most ${CATCH_UP_S}s without progress)"

consumer_args=()
for ((i = 0; i < CONSUMERS; i++)); do consumer_args+=(--consumer "$RUN_DIR/consumer-$i.jsonl"); done
set +e
python3 "$REPO_ROOT/scripts/kafka-verifiable-check.py" --topic "$TOPIC" \
    --producer "$RUN_DIR/producer.jsonl" "${consumer_args[@]}" \
    --restarts "$RESTARTS" --wait-s "$CATCH_UP_S" "${CHECK_ARGS[@]}" > "$RUN_DIR/summary.txt"
verdict=$?
set -e
echo "against      $AGAINST, ${DURATION_S}s, kill every ${KILL_EVERY_S}s, $((SECONDS - started))s in all"
cat "$RUN_DIR/summary.txt"
[[ $verdict -eq 0 ]] && PASSED=1
exit "$verdict"

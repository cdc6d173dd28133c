#!/usr/bin/env bash
# How long the broker takes to serve again after SIGKILL (unclean: recovery
# scans each partition's active segment from its last index point) and
# after SIGTERM (clean: the marker skips the scan), with a topic holding
# RECORDS records of 1 KiB produced since the broker started.
#
# Usage: scripts/restart-time.sh [RECORDS]   (default 400000, ~420 MB)
# Builds the release binaries; data under <repo>/tmp/restart-time, removed
# at the end. Prints the partitions' sizes and both restart times.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS="${1:-400000}"
case "$RECORDS" in
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]*|'') echo "RECORDS must be a number, not '$RECORDS'" >&2; exit 2 ;;
esac
DIR="$ROOT/tmp/restart-time"
BIN="$ROOT/target/release/shardlog"
START_TIMEOUT_S=120
BROKER_PID=""

cleanup() {
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -KILL "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT

# Starts the broker; sets BROKER_PID and SERVING_MS (spawn to ready file).
start_broker() {
    rm -f "$DIR/ready"
    local t0 deadline
    t0=$(date +%s%N)
    deadline=$(( $(date +%s) + START_TIMEOUT_S ))
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$DIR/data" \
        --ready-file "$DIR/ready" >/dev/null 2>>"$DIR/broker.log" &
    BROKER_PID=$!
    until [[ -f "$DIR/ready" ]]; do
        kill -0 "$BROKER_PID" 2>/dev/null || { echo "broker exited: $(tail -3 "$DIR/broker.log")" >&2; exit 1; }
        (( $(date +%s) < deadline )) || { echo "broker not serving after ${START_TIMEOUT_S}s" >&2; exit 1; }
        sleep 0.01
    done
    SERVING_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}

stop_broker() {
    kill "-$1" "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
}

(cd "$ROOT" && cargo build --release -q -p shardlog -p loadtest)
rm -rf "$DIR"; mkdir -p "$DIR"
start_broker
"$ROOT/target/release/shardlog-loadtest" --broker "$(head -1 "$DIR/ready")" \
    --topic restart --partitions 2 --producers 2 --consumers 0 \
    --records "$RECORDS" --warmup 0 > "$DIR/loadtest.log" 2>&1
echo "partition sizes: $(du -sh "$DIR"/data/topics/restart/* | awk '{print $1}' | tr '\n' ' ')"
stop_broker KILL
start_broker
echo "after SIGKILL: serving again in ${SERVING_MS} ms"
stop_broker TERM
start_broker
echo "after SIGTERM: serving again in ${SERVING_MS} ms"
stop_broker TERM

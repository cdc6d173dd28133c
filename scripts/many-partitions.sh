#!/usr/bin/env bash
# Issue 14's goal 6: thousands of partitions on one broker, measured.
#
# Starts a fresh broker (release build) on a data dir under <repo>/tmp,
# creates TOPICS topics of PARTITIONS partitions (10 x 1000 by default:
# 10,000, over several topics since one topic holds at most 4096), then:
#   - appends one 100-byte record to every partition (each partition's first
#     append), then one more to every partition (a normal append), with the
#     harness (--records = the partition count, records round-robin), and
#     compares the two runs' ack p50;
#   - reads the broker's resident memory before the topics and after the
#     appends, and the data dir's disk use (du): per partition;
#   - SIGTERM right after the appends: seconds until the process is gone;
#     restart: seconds until the ready file appears (serving); SIGKILL,
#     restart (serving again after a crash), SIGTERM again (nothing
#     appended since that open).
# Prints each figure against the goal (64 KiB of disk and 16 KiB of memory
# per partition, first append at most 2x a normal one, serving again in at
# most 2 s after SIGKILL, stopping in at most 1 s) with MET / MISSED.
#
# Needs open files: about one descriptor per partition (plus one per sealed
# segment); the script raises the soft limit to the hard one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOPICS=10
PARTITIONS=1000
JSON_OUT=""

usage() {
    cat <<EOF
Usage: $(basename "$0") [--topics N] [--partitions N] [--json FILE]

Measure issue 14's goal 6 on this machine: TOPICS topics of PARTITIONS
partitions each (default 10 x 1000) on one fresh local broker: disk and
memory per lightly used partition, a partition's first append against a
normal one, time to serve again after SIGKILL, time to stop on SIGTERM.
Builds the release binaries first. Data under $ROOT/tmp/many-partitions.
--json FILE also writes the figures and verdicts as JSON (scripts/bench.sh
puts them in its goals table).
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --topics) TOPICS="$2"; shift 2 ;;
        --partitions) PARTITIONS="$2"; shift 2 ;;
        --json) JSON_OUT="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "many-partitions.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$TOPICS" =~ ^[1-9][0-9]*$ && "$PARTITIONS" =~ ^[1-9][0-9]*$ ]] \
    || { echo "many-partitions.sh: --topics and --partitions take positive numbers" >&2; exit 2; }
TOTAL=$((TOPICS * PARTITIONS))

log() { echo "many-partitions: $*" >&2; }

log "building release binaries"
(cd "$ROOT" && cargo build --release -p shardlog -p loadtest >&2)
# The build's output is dirty page cache; write it back now, not during a
# measured stop.
sync
BIN="$ROOT/target/release"
WORK="$ROOT/tmp/many-partitions"
DATA="$WORK/data"
READY="$WORK/ready"
BROKER_LOG="$WORK/broker.log"
rm -rf "$WORK"
mkdir -p "$DATA"
ulimit -n "$(ulimit -Hn)"
log "open files limit: $(ulimit -n) for $TOTAL partitions"

BROKER_PID=""
cleanup() {
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -9 "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }

# Starts the broker; READY_S = the seconds until its ready file appeared.
# (Not run in $(...): BROKER_PID must be this shell's.)
start_broker() {
    rm -f "$READY"
    local started
    started="$(now)"
    "$BIN/shardlog" serve --data-dir "$DATA" --listen 127.0.0.1:0 --kafka-listen off \
        --ready-file "$READY" >>"$BROKER_LOG" 2>&1 &
    BROKER_PID=$!
    for _ in $(seq 6000); do
        [[ -s "$READY" ]] && break
        kill -0 "$BROKER_PID" 2>/dev/null || { log "the broker exited; see $BROKER_LOG"; exit 1; }
        sleep 0.01
    done
    [[ -s "$READY" ]] || { log "no ready file after 60 s; see $BROKER_LOG"; exit 1; }
    ADDR="$(head -1 "$READY" | awk '{print $NF}')"
    READY_S="$(since "$started")"
}

# Sends SIGTERM; STOPPED_S = the seconds until the process was gone.
stop_broker() {
    local started
    started="$(now)"
    kill "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=""
    STOPPED_S="$(since "$started")"
}

rss_kib() { awk '/VmRSS/{print $2}' "/proc/$BROKER_PID/status"; }

# One record to every partition; prints the ack p50 in microseconds.
append_round() {
    local out="$WORK/append-$1.txt"
    "$BIN/shardlog-loadtest" --broker "$ADDR" --topic many --topics "$TOPICS" \
        --partitions "$PARTITIONS" --producers 1 --consumers 0 --record-bytes 100 \
        --records "$TOTAL" --warmup 0 --batch-bytes 16KiB --linger-ms 0 --inflight 64 \
        --report "$WORK/report-$1" >"$out" 2>&1 \
        || { log "the harness failed; see $out"; exit 1; }
    python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['produce_ack_p50_us'])" \
        "$WORK/report-$1/summary.json"
}

start_broker
RSS_EMPTY="$(rss_kib)"
log "creating $TOPICS topics of $PARTITIONS partitions"
CREATE_STARTED="$(now)"
for t in $(seq 0 $((TOPICS - 1))); do
    "$BIN/shardlog" topic create "many-$t" --partitions "$PARTITIONS" --broker "$ADDR" >/dev/null
done
CREATE_S="$(since "$CREATE_STARTED")"
log "first appends"
FIRST_P50="$(append_round first)"
log "second appends"
NORMAL_P50="$(append_round normal)"
RSS_AFTER="$(rss_kib)"
DISK_KIB="$(du -sk "$DATA" | cut -f1)"
FDS="$(ls "/proc/$BROKER_PID/fd" | wc -l)"
log "stop after the appends"
stop_broker
STOP_AFTER_APPENDS="$STOPPED_S"
log "restart after SIGTERM"
start_broker
SERVE_AFTER_STOP="$READY_S"
log "SIGKILL, restart"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BROKER_PID=""
start_broker
SERVE_AFTER_KILL="$READY_S"
log "stop after a restart without appends"
stop_broker
STOP_CLEAN="$STOPPED_S"

python3 - "$TOTAL" "$TOPICS" "$PARTITIONS" "$CREATE_S" "$RSS_EMPTY" "$RSS_AFTER" "$DISK_KIB" "$FDS" \
    "$FIRST_P50" "$NORMAL_P50" "$SERVE_AFTER_KILL" "$STOP_AFTER_APPENDS" "$SERVE_AFTER_STOP" "$STOP_CLEAN" \
    "$JSON_OUT" <<'PY'
import json, sys
(total, topics, partitions, create_s, rss0, rss1, disk, fds, first, normal,
 serve_kill, stop_appends, serve_stop, stop_clean, json_out) = sys.argv[1:]
rows = []
total = int(total)
mem = (int(rss1) - int(rss0)) / total
disk = int(disk) / total
first, normal = float(first), float(normal)
def row(what, figure, goal, ok):
    verdict = None if ok is None else ("MET" if ok else "MISSED")
    shown = {None: "-", "MET": "MET", "MISSED": "**MISSED**"}[verdict]
    print(f"| {what} | {figure} | {goal} | {shown} |")
    rows.append({"goal": what, "figure": figure, "threshold": goal, "verdict": verdict})
print(f"{topics} topics x {partitions} partitions = {total:,} partitions; created in {create_s} s; "
      f"{fds} open descriptors after the appends")
print()
print("| goal 6 | figure | goal | verdict |")
print("|---|---|---|---|")
row("disk per lightly used partition (du)", f"{disk:.1f} KiB", "<= 64 KiB", disk <= 64)
row("memory per partition (RSS growth)", f"{mem:.1f} KiB", "<= 16 KiB", mem <= 16)
row("first append vs a normal one (ack p50)", f"{first/1000:.2f} ms vs {normal/1000:.2f} ms = {first/normal:.2f}x", "<= 2x", first <= 2 * normal)
row("serving again after SIGKILL", f"{serve_kill} s", "<= 2 s", float(serve_kill) <= 2)
row("stopping on SIGTERM, appends since the open", f"{stop_appends} s", "<= 1 s", float(stop_appends) <= 1)
row("serving again after SIGTERM", f"{serve_stop} s", "(no goal)", None)
row("stopping on SIGTERM, nothing appended since the open", f"{stop_clean} s", "<= 1 s", float(stop_clean) <= 1)
if json_out:
    json.dump({"partitions": total, "topics": int(topics), "created_s": float(create_s),
               "open_descriptors": int(fds), "rows": rows}, open(json_out, "w"), indent=2)
PY

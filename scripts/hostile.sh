#!/usr/bin/env bash
# Hostile clients against the release broker (issue #6): builds release,
# starts a broker with room for 10k idle connections, runs shardlog-hostile
# (a fixed-rate durable producer alone, then with idle connections, slow
# senders, length u32::MAX, garbage, truncated frames and reconnect churn),
# prints its report and cleans up. Extra arguments go to shardlog-hostile.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$REPO_ROOT/target/hostile"
REPORT="$REPO_ROOT/target/hostile-report"
IDLE=10000
CONNECTIONS_MAX=12000    # idle + slow senders + churn + the producer, with room
NOFILE=65536             # for the broker and the tool: 10k sockets each, plus files
WAIT_S=30
BUILD=1

usage() {
    cat <<EOF
Usage: $(basename "$0") [--no-build] [--report DIR] [-- SHARDLOG-HOSTILE ARGS...]

Builds the release broker and shardlog-hostile, starts the broker on
127.0.0.1 (every core, --connections-max $CONNECTIONS_MAX, data under
target/hostile), raises the open-file limit to $NOFILE, runs
shardlog-hostile with --idle-connections $IDLE and the broker's pid, and
writes hostile.json and hostile.md into --report (default
target/hostile-report). Prints the machine's load before and after: other
work on the same cores shows in the figures.

Examples:
  sudo scripts/hostile.sh
  scripts/hostile.sh -- --phase-s 30 --rate 5000
EOF
}

log() { echo "hostile: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

EXTRA=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --no-build) BUILD=0; shift ;;
        --report) REPORT="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

BROKER_PID=""
cleanup() {
    local status=$?
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "$BUILD" -eq 1 ]]; then
    log "building release"
    (cd "$REPO_ROOT" && cargo build --release -p shardlog --bin shardlog -p loadtest --bin shardlog-hostile >&2)
fi
BIN="$REPO_ROOT/target/release"
[[ -x "$BIN/shardlog" && -x "$BIN/shardlog-hostile" ]] || die "release binaries missing"

# Both processes inherit this: 10k connections each, plus files.
ulimit -n "$NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= IDLE + 2048 )) || die "open-file limit $(ulimit -n) is below $((IDLE + 2048)); run as root or raise the hard limit"
log "open-file limit $(ulimit -n)"

rm -rf "$WORK"
mkdir -p "$WORK"
"$BIN/shardlog" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 \
    --connections-max "$CONNECTIONS_MAX" --ready-file "$WORK/ready" \
    >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 $((WAIT_S * 10))); do
    [[ -s "$WORK/ready" ]] && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$WORK/broker.log" >&2; die "the broker exited at start"; }
    sleep 0.1
done
[[ -s "$WORK/ready" ]] || die "the broker did not get ready within ${WAIT_S}s"
ADDR="$(cat "$WORK/ready")"

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r)"
echo "before: $(uptime)"
top -bn1 -o %CPU | sed -n '7,12p'
CMD=("$BIN/shardlog-hostile" --broker "$ADDR" --broker-pid "$BROKER_PID"
     --idle-connections "$IDLE" --report "$REPORT" "${EXTRA[@]}")
echo "command: ${CMD[*]}"
status=0
# Bounded: the tool's phases are bounded; this is the backstop.
timeout 600 "${CMD[@]}" || status=$?
echo "after: $(uptime)"
top -bn1 -o %CPU | sed -n '7,12p'
kill -0 "$BROKER_PID" 2>/dev/null || die "the broker died during the run"
(( status == 0 )) || die "shardlog-hostile exited with status $status"
log "report in $REPORT"

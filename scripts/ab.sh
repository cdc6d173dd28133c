#!/usr/bin/env bash
# A/B: two builds of the broker, driven by the same shardlog-loadtest (this
# checkout's), runs interleaved A B A B ... so that a noisy machine hits
# both alike. For "this change costs nothing measurable" claims.
#
# Each ref is checked out into tmp/ab/src-<sha> (a detached git worktree)
# and built in release into one shared target dir (dependencies are built
# once); its `shardlog` binary is copied to tmp/ab/bin-<sha>. Every run gets
# a fresh broker on a fresh data dir under tmp/ab (the real disk), stopped
# with SIGTERM afterwards.
#
# Workloads (as in docs/BENCHMARKS.md, durable acks, 1 KiB records):
#   batched:          --partitions 16 --producers 4 --consumers 0
#   one-per-request:  --partitions 64 --producers 4 --consumers 0
#                     --batch-bytes 1200 --linger-ms 0 --inflight 64
#
# --protocol kafka drives each broker's Kafka port through librdkafka
# (shardlog-loadtest --protocol kafka) instead of the native protocol; both
# refs must serve Kafka (--kafka-listen).
#
# Output: tmp/ab/<stamp>/results.md (a table per workload: records/s of
# every run, the mean ratio B/A, ack p99 medians, the broker's CPU per
# record acknowledged) and each run's report/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=3
DURATION=15
WARMUP=3
CORES=""
PROTOCOL=native

usage() {
    cat <<EOF
Usage: $(basename "$0") [--runs N] [--duration S] [--warmup S] [--cores N] A_REF [B_REF]

Measures the broker built from git ref A_REF against B_REF (default: the
working tree's HEAD) with the same load harness, interleaved, and writes
tmp/ab/<UTC stamp>/results.md.

Options:
  --runs N       runs per broker per workload (default: $RUNS)
  --duration S   measured seconds per run (default: $DURATION)
  --warmup S     warm-up seconds per run (default: $WARMUP)
  --cores N      serve --cores N (default: every CPU)
  --protocol P   native (default) or kafka: the load harness's --protocol;
                 kafka serves --kafka-listen on an ephemeral port
  -h, --help     show this help

Example:
  scripts/ab.sh --runs 3 b2b2c57 HEAD
EOF
}

refs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --cores) CORES="$2"; shift 2 ;;
        --protocol) PROTOCOL="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
        *) refs+=("$1"); shift ;;
    esac
done
if [ "${#refs[@]}" -lt 1 ] || [ "${#refs[@]}" -gt 2 ]; then
    usage >&2
    exit 2
fi
A_REF="${refs[0]}"
B_REF="${refs[1]:-HEAD}"

cd "$ROOT"
A_SHA="$(git rev-parse --short "$A_REF^{commit}")"
B_SHA="$(git rev-parse --short "$B_REF^{commit}")"
AB="$ROOT/tmp/ab"
OUT="$AB/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
log() { echo "[ab $(date -u +%H:%M:%S)] $*" >&2; }

BROKER_PID=""
cleanup() {
    if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -KILL "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    rm -rf "$AB/data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() { # ref sha -> path of its shardlog binary
    local ref="$1" sha="$2" src="$AB/src-$2" bin="$AB/bin-$2"
    if [ ! -x "$bin/shardlog" ]; then
        log "building $ref ($sha)"
        rm -rf "$src"
        git worktree prune
        git worktree add --detach "$src" "$sha" >&2
        (cd "$src" && CARGO_TARGET_DIR="$AB/target" cargo build --release --bin shardlog >&2)
        mkdir -p "$bin"
        cp "$AB/target/release/shardlog" "$bin/shardlog"
        git worktree remove --force "$src"
    fi
    echo "$bin/shardlog"
}

A_BIN="$(build "$A_REF" "$A_SHA")"
B_BIN="$(build "$B_REF" "$B_SHA")"
log "building the load harness of this checkout"
cargo build --release -p loadtest --bin shardlog-loadtest >&2
LOADTEST="$ROOT/target/release/shardlog-loadtest"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_broker() { # binary -> sets BROKER_PID and BROKER_ADDR
    local bin="$1" port ready
    rm -rf "$AB/data"
    mkdir -p "$AB/data"
    port="$(free_port)"
    ready="$AB/data.ready"
    rm -f "$ready"
    local args=(serve --listen "127.0.0.1:$port" --data-dir "$AB/data" --ready-file "$ready")
    if [ -n "$CORES" ]; then
        args+=(--cores "$CORES")
    fi
    local wanted='^[^ ]+$' # the native address, the ready file's first line
    if [ "$PROTOCOL" = kafka ]; then
        args+=(--kafka-listen 127.0.0.1:0)
        wanted='^kafka '
    fi
    RUST_LOG=warn "$bin" "${args[@]}" 2>>"$OUT/brokers.log" &
    BROKER_PID=$!
    for _ in $(seq 1 600); do
        if [ -s "$ready" ] && grep -Eq "$wanted" "$ready"; then
            BROKER_ADDR="$(grep -E "$wanted" "$ready" | head -n1 | awk '{print $NF}')"
            return 0
        fi
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "the broker $bin exited before serving; see $OUT/brokers.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "the broker $bin did not start within 60 s" >&2
    exit 1
}

stop_broker() {
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=""
    rm -rf "$AB/data" "$AB/data.ready"
}

declare -A WORKLOADS=(
    [batched]="--partitions 16 --producers 4 --consumers 0"
    [one-per-request]="--partitions 64 --producers 4 --consumers 0 --batch-bytes 1200 --linger-ms 0 --inflight 64"
)

for workload in batched one-per-request; do
    for run in $(seq 1 "$RUNS"); do
        for side in A B; do
            if [ "$side" = A ]; then bin="$A_BIN"; else bin="$B_BIN"; fi
            dir="$OUT/$workload/$side-$run"
            mkdir -p "$dir"
            start_broker "$bin"
            # shellcheck disable=SC2086 # the workload's flags split on purpose
            log "$workload $side run $run: shardlog-loadtest ${WORKLOADS[$workload]}"
            # shellcheck disable=SC2086
            "$LOADTEST" --protocol "$PROTOCOL" --broker "$BROKER_ADDR" ${WORKLOADS[$workload]} \
                --duration "$DURATION" --warmup "$WARMUP" --report "$dir/report" \
                >"$dir/stdout.txt" 2>"$dir/live.log"
            # The broker's CPU over its life (utime + stime, in clock ticks):
            # divided by the records acknowledged, its CPU cost per record,
            # steadier than throughput on a shared machine.
            awk '{print $14 + $15}' "/proc/$BROKER_PID/stat" >"$dir/broker_cpu_ticks"
            stop_broker
        done
    done
done

python3 - "$OUT" "$A_REF ($A_SHA)" "$B_REF ($B_SHA)" "$RUNS" "$(getconf CLK_TCK)" "$PROTOCOL" <<'PY' | tee "$OUT/results.md"
import json, os, statistics, sys
out, a_name, b_name, runs, ticks_per_s = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
protocol = sys.argv[6]
print(f"# A/B: A = {a_name}, B = {b_name}, over the {protocol} protocol\n")
print("| workload | A records/s | B records/s | B / A (means) | ack p99 ms, median: A -> B | broker CPU µs per record, median: A -> B |")
print("|---|---|---|---:|---|---|")
for workload in ("batched", "one-per-request"):
    rate = {"A": [], "B": []}
    p99 = {"A": [], "B": []}
    cpu = {"A": [], "B": []}
    for side in "AB":
        for run in range(1, runs + 1):
            summary = json.load(open(os.path.join(out, workload, f"{side}-{run}", "report", "summary.json")))
            rate[side].append(summary["produce_records_per_s"])
            p99[side].append(summary["produce_ack_p99_us"] / 1000.0)
            ticks = int(open(os.path.join(out, workload, f"{side}-{run}", "broker_cpu_ticks")).read())
            cpu[side].append(ticks / ticks_per_s * 1e6 / max(summary["records_acknowledged"], 1))
    ratio = statistics.mean(rate["B"]) / statistics.mean(rate["A"])
    fmt = lambda xs: " · ".join(f"{x:,.0f}" for x in xs)
    print(f"| {workload} | {fmt(rate['A'])} | {fmt(rate['B'])} | {ratio:.2f} | "
          f"{statistics.median(p99['A']):.1f} -> {statistics.median(p99['B']):.1f} | "
          f"{statistics.median(cpu['A']):.1f} -> {statistics.median(cpu['B']):.1f} |")
PY
log "results: $OUT/results.md"

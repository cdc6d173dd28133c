#!/usr/bin/env bash
# The standard benchmark suite: shardlog's broker driven by shardlog-loadtest,
# held against the machine's limits measured in the same run.
# (--against-kafka runs scripts/bench-kafka.sh instead: shardlog and Apache
# Kafka side by side on the same workloads.)
#
# Workloads: the suite file loadtest/suites/standard.toml (--suite FILE for
# another), run one by one with shardlog-loadtest --suite FILE --suite-run
# NAME; its groups decide when the broker is restarted. The standard one
# (modelled on the OpenMessaging Benchmark's; every run: 1 topic,
# 1 KiB record values, no keys, 4 producer threads, 4 consumer threads that
# read the tail, i.e. from where the partitions ended when the run started):
#
#   group pP-ACKS, for P in 1 16 64 and ACKS in durable written:
#     - max:  closed loop, max throughput (--inflight 4096 records per
#             producer, --batch-bytes 256 KiB, --linger-ms 1: the harness's
#             defaults);
#     - r25, r50, r75: open loop at 25%, 50% and 75% of the records/s the
#             max run just measured (--rate), latency counted from each
#             record's intended send time (coordinated omission corrected).
#   target workload (a), "batched": durable max throughput = run p16-durable-max.
#   target workload (b), "one record per request, 64 in flight per producer":
#     p64-durable-one-per-request: durable, 64 partitions, --batch-bytes 1200
#     --linger-ms 0 --inflight 64. A 1 KiB record plus the record and batch
#     headers is about 1.1 KB, so no batch holds two records. The client
#     still puts the batches of several partitions that are ready at the
#     same moment into one produce request (one batch in flight per
#     partition, grouped per connection), and --inflight also caps the
#     requests in flight per connection at 64.
#
# Then issue 14's goals (loadtest/suites/goals.toml; --goals-only runs
# them alone, with fio's two jobs they need, iperf3 and Redis: a few
# minutes):
#   goal1-pipeline64-p1: --pipeline 64 (each record its own produce
#     request, 64 in flight), 1 partition, 1 producer, no consumers;
#   goal3-pipeline64-p64: the same over 64 partitions;
#   goal4-batched-p16-max: = p16-durable-max; goal5-batched-p16-r50: 50% of it;
#   goal5-pipeline1-p1: --pipeline 1, one producer waiting for each ack.
# The goals table (results.md, results.json "goals") holds each goal's
# figure against its reference of the same run: goal 1 against Redis, 2
# the broker's CPU per request (--broker-metrics: process_cpu_seconds_total
# over the measured window), 3 against goal 1, 4 against fio 1 MiB
# write+fdatasync MB/s and the disk's bytes written per record byte, 5
# against fio's 4 KiB write+fdatasync p50/p99 (the write's percentile plus
# the fdatasync's); MET or MISSED. Goal 6 (10,000 partitions: disk and
# memory per partition, first append, restart and stop times) comes from
# scripts/many-partitions.sh, run last (not with --quick): its table is
# appended, and results.json has it as "many_partitions".
#
# Each group (one line of workloads above) gets a fresh broker on a fresh data
# dir under <repo>/tmp (the real disk: tmpfs is refused), with its metrics
# endpoint on (--metrics-listen 127.0.0.1:0), stopped with SIGTERM
# afterwards; runs within a group use a topic each.
#
# Limits, measured in the same run, before the workloads:
#   - fio via scripts/disk-limit.sh --json: O_DIRECT sequential writes,
#     iodepth 1, with fdatasync after each write at 4k..1m (the broker's
#     group-commit writes range from one 4 KiB page to --write-bytes-max,
#     4 MiB; the average write size of each run is in the resources table)
#     and without fdatasync at 64k and 1m;
#   - iperf3 over loopback (one stream, 127.0.0.1);
#   - Redis (goal 1's baseline): a private redis-server on 127.0.0.1 and an
#     ephemeral port, appendonly yes, appendfsync always, its AOF under
#     $OUT/redis (deleted after), driven by
#     redis-benchmark -c 1 -P 64 -n N --csv XADD bench '*' f <1 KiB value>,
#     N sized by a short calibration run to last about --duration; CONFIG
#     GET and the disk's flush count over the run check that every
#     pipelined batch is fsynced.
# limit = min(fio O_DIRECT+fdatasync 1 MiB MB/s, iperf3 loopback MB/s); every
# throughput figure is also given as a ratio of it.
#
# While each run measures, a sampler reads /proc: CPU used by the broker and
# by the harness (per thread too) and by the whole machine, and the data
# disk's writes, bytes written and flushes (each fdatasync that reaches the
# disk is one flush) -- the resources table in results.md.
#
# Output: $OUT/limits/ (fio.md, fio.json, iperf3.json, redis.json,
# limits.json: the limit, recorded in every run's summary.json),
# $OUT/redis/ (redis-benchmark's CSV, redis-server's log), $OUT/runs/NAME/
# (report/ from --report with summary.json, live.log, stdout.txt, run.json,
# resources.json), $OUT/brokers/GROUP.log (broker stderr), $OUT/results.md,
# $OUT/results.json.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"

DURATION=""
WARMUP=""
OUT=""
QUICK=0
GOALS_ONLY=0
SUITE_FILE="$ROOT/loadtest/suites/standard.toml"
GOALS_FILE="$ROOT/loadtest/suites/goals.toml"

usage() {
    cat <<EOF
Usage: $(basename "$0") [--duration S] [--warmup S] [--out DIR] [--quick] [--suite FILE] [--goals-only]
       $(basename "$0") --against-kafka [scripts/bench-kafka.sh's options]

Run shardlog's standard benchmark suite against a fresh local broker and
measure the machine's limits (fio, iperf3 loopback) in the same run.

Workloads: 1 topic with 1, 16 and 64 partitions; 1 KiB records; 4 producers,
4 consumers; for acks durable and written: a max-throughput run, then
fixed-rate runs at 25%, 50% and 75% of it. Plus "one record per request, 64
in flight per producer": durable, 64 partitions, --batch-bytes 1200
--linger-ms 0 --inflight 64. Then issue 14's goals (loadtest/suites/goals.toml:
--pipeline 64 on 1 and 64 partitions, batched p16 max and 50% of it,
--pipeline 1), held against a Redis baseline (appendfsync always,
redis-benchmark -P 64 -c 1 XADD 1 KiB) and fio measured in the same run: a
goals table with MET / MISSED, and goal 6 by scripts/many-partitions.sh
(10,000 partitions; skipped with --quick). (The comment at the top of
this script has the details.)

Options:
  --duration S   measured seconds per run (default: 10)
  --warmup S     warmup seconds per run before measuring (default: 2)
  --out DIR      output directory (default: <repo>/tmp/bench/<UTC timestamp>)
  --quick        short variant to try the script: without the groups
                 p64-durable and p64-written, 3 s runs, 1 s warmup, short
                 fio and iperf3 runs
  --suite FILE   the workloads (default: loadtest/suites/standard.toml);
                 --duration and --warmup override the file's
  --goals-only   only fio's sync-4k and sync-1m jobs, iperf3, Redis, the
                 goals' runs and many-partitions.sh (a few minutes; with
                 --quick, under one, without many-partitions.sh)
  --against-kafka  instead: shardlog and Apache Kafka side by side
                 (scripts/bench-kafka.sh, with the other options)
  -h, --help     show this help

Prints \$OUT/results.md at the end. Needs fio, iperf3, redis-server,
redis-benchmark and redis-cli (installed with apt-get when missing and
running as root) and python3.
EOF
}

log() { echo "bench: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --against-kafka: the side-by-side run with Apache Kafka instead,
# scripts/bench-kafka.sh, with the other options (its --help lists them).
for arg in "$@"; do
    if [[ "$arg" == --against-kafka ]]; then
        rest=()
        for arg in "$@"; do [[ "$arg" == --against-kafka ]] || rest+=("$arg"); done
        exec "$ROOT/scripts/bench-kafka.sh" "${rest[@]+"${rest[@]}"}"
    fi
done

while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) [[ $# -ge 2 ]] || die "--duration needs a value"; DURATION="$2"; shift 2 ;;
        --warmup)   [[ $# -ge 2 ]] || die "--warmup needs a value"; WARMUP="$2"; shift 2 ;;
        --out)      [[ $# -ge 2 ]] || die "--out needs a value"; OUT="$2"; shift 2 ;;
        --quick)    QUICK=1; shift ;;
        --suite)    [[ $# -ge 2 ]] || die "--suite needs a value"; SUITE_FILE="$2"; shift 2 ;;
        --goals-only) GOALS_ONLY=1; shift ;;
        -h|--help)  usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

if [[ "$QUICK" -eq 1 ]]; then
    QUICK_SKIP_GROUPS=(p64-durable p64-written)
    DURATION="${DURATION:-3}"
    WARMUP="${WARMUP:-1}"
    FIO_RUNTIME=2
    IPERF_SECONDS=2
else
    QUICK_SKIP_GROUPS=()
    DURATION="${DURATION:-10}"
    WARMUP="${WARMUP:-2}"
    FIO_RUNTIME=5
    IPERF_SECONDS=5
fi
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive integer (seconds)"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "--warmup must be a non-negative integer (seconds)"
OUT="${OUT:-$ROOT/tmp/bench/$STAMP}"

[[ -f "$SUITE_FILE" ]] || die "no suite file $SUITE_FILE"
SUITE_FILE="$(cd "$(dirname "$SUITE_FILE")" && pwd)/$(basename "$SUITE_FILE")"
[[ -f "$GOALS_FILE" ]] || die "no goals file $GOALS_FILE"
# --goals-only: fio's two jobs the goals need, not all seven.
FIO_ONLY=""
[[ "$GOALS_ONLY" -eq 1 ]] && FIO_ONLY="sync-4k,sync-1m"

BROKER_BIN="$ROOT/target/release/shardlog"
LOADTEST_BIN="$ROOT/target/release/shardlog-loadtest"

# Every process this script starts is in here until it is reaped; the EXIT
# trap stops whatever is left (TERM, then KILL after 20 s).
STARTED_PIDS=()
DATA_BASE=""
FAILED=0

forget_pid() {
    local pid="$1" kept=() p
    for p in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do [[ "$p" == "$pid" ]] || kept+=("$p"); done
    STARTED_PIDS=("${kept[@]+"${kept[@]}"}")
}

cleanup() {
    local status=$? pid i
    trap - EXIT INT TERM
    for pid in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do
        for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$DATA_BASE" && -d "$DATA_BASE" ]]; then rm -rf "$DATA_BASE"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for a background child so that a signal is handled at once (bash
# defers traps while a foreground child runs). Sets WAIT_STATUS.
wait_child() {
    local pid="$1"
    WAIT_STATUS=0
    wait "$pid" || WAIT_STATUS=$?
    forget_pid "$pid"
}

mkdir -p "$OUT"/{limits,runs,brokers}
OUT="$(cd "$OUT" && pwd)"
log "output in $OUT"

# --- binaries ------------------------------------------------------------------
# Always: a binary left from an older commit would be measured silently
# (cargo does nothing when they are current).
log "building release binaries (before any measurement)"
(cd "$ROOT" && cargo build --release -p shardlog -p loadtest) >&2

# --- data dir on the real disk -------------------------------------------------
DATA_BASE="$ROOT/tmp/bench-data-$STAMP-$$"
mkdir -p "$DATA_BASE"
DATA_FSTYPE="$(df --output=fstype "$DATA_BASE" | tail -n 1 | tr -d ' ')"
DATA_DEVICE="$(df --output=source "$DATA_BASE" | tail -n 1 | tr -d ' ')"
case "$DATA_FSTYPE" in
    tmpfs|ramfs|devtmpfs) die "$DATA_BASE is on $DATA_FSTYPE, not a disk" ;;
esac
DISK_NAME="$(basename "$DATA_DEVICE")"   # its line in /proc/diskstats

# --- limits --------------------------------------------------------------------
ensure_iperf3() {
    command -v iperf3 >/dev/null 2>&1 && return 0
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "iperf3 not found; installing it with apt-get"
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y iperf3; } >&2
        command -v iperf3 >/dev/null 2>&1 || die "apt-get ran but iperf3 is still missing"
    else
        die "iperf3 is not installed; install it, e.g.: sudo apt-get update && sudo apt-get install -y iperf3"
    fi
}

measure_fio() {
    log "limits 1/3: fio (scripts/disk-limit.sh --runtime $FIO_RUNTIME${FIO_ONLY:+ --only $FIO_ONLY})"
    bash "$ROOT/scripts/disk-limit.sh" --runtime "$FIO_RUNTIME" ${FIO_ONLY:+--only "$FIO_ONLY"} \
        --dir "$DATA_BASE/disk-limit" --json "$OUT/limits/fio.json" \
        > "$OUT/limits/fio.md" 2> "$OUT/limits/fio.log" &
    local pid=$!
    STARTED_PIDS+=("$pid")
    wait_child "$pid"
    [[ "$WAIT_STATUS" -eq 0 ]] || { cat "$OUT/limits/fio.log" >&2; die "disk-limit.sh failed ($WAIT_STATUS)"; }
    cat "$OUT/limits/fio.md" >&2
}

measure_iperf3() {
    ensure_iperf3
    local port i spid cpid
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    log "limits 2/3: iperf3 loopback, ${IPERF_SECONDS} s, port $port"
    iperf3 -s -1 -B 127.0.0.1 -p "$port" > "$OUT/limits/iperf3-server.log" 2>&1 &
    spid=$!
    STARTED_PIDS+=("$spid")
    for i in $(seq 100); do
        ss -ltn 2>/dev/null | grep -q "127.0.0.1:$port " && break
        sleep 0.1
    done
    iperf3 -c 127.0.0.1 -p "$port" -t "$IPERF_SECONDS" -J > "$OUT/limits/iperf3.json" 2> "$OUT/limits/iperf3-client.log" &
    cpid=$!
    STARTED_PIDS+=("$cpid")
    wait_child "$cpid"
    [[ "$WAIT_STATUS" -eq 0 ]] || die "iperf3 client failed ($WAIT_STATUS): $(cat "$OUT/limits/iperf3-client.log")"
    wait_child "$spid"    # -1: the server exits after one test
    python3 - "$OUT/limits/iperf3.json" <<'PY' >&2
import json, sys
d = json.load(open(sys.argv[1]))
bps = d["end"]["sum_received"]["bits_per_second"]
print(f"iperf3 loopback: {bps/1e9:.2f} Gbit/s = {bps/8e6:,.0f} MB/s")
PY
}

ensure_redis() {
    local missing=0 tool
    for tool in redis-server redis-benchmark redis-cli; do
        command -v "$tool" >/dev/null 2>&1 || missing=1
    done
    [[ "$missing" -eq 0 ]] && return 0
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "redis-server, redis-benchmark or redis-cli not found; installing them with apt-get"
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-tools; } >&2
        for tool in redis-server redis-benchmark redis-cli; do
            command -v "$tool" >/dev/null 2>&1 || die "apt-get ran but $tool is still missing"
        done
    else
        die "the Redis baseline needs redis-server, redis-benchmark and redis-cli; install them, e.g.: sudo apt-get update && sudo apt-get install -y redis-server redis-tools"
    fi
}

# One field of the data disk's line in /proc/diskstats, counted after the
# name: 5 writes, 7 sectors written, 16 flush requests completed.
disk_field() {
    awk -v d="$DISK_NAME" -v f="$1" '$3 == d { print $(3 + f) + 0; found = 1 } END { if (!found) print 0 }' /proc/diskstats
}

# Goal 1's baseline: a private redis-server on 127.0.0.1 (ephemeral port),
# appendonly yes and appendfsync always, its dir under $OUT/redis (the real
# disk), driven by redis-benchmark -P 64 -c 1 with XADD of a 1 KiB value:
# one record per command, 64 commands pipelined on one connection. The
# number of commands is picked from a short calibration run so that the
# measured run lasts about --duration seconds. appendfsync always is
# checked twice: CONFIG GET, and the disk's flush count over the run
# (Redis fsyncs the AOF once per event-loop turn that wrote to it, before
# answering, so at least one flush per 64 commands).
measure_redis() {
    ensure_redis
    local dir="$OUT/redis" port pid i appendonly appendfsync value n rps bench
    mkdir -p "$dir/data"
    case "$(df --output=fstype "$dir/data" | tail -n 1 | tr -d ' ')" in
        tmpfs|ramfs|devtmpfs) die "$dir is in RAM (tmpfs): the Redis baseline must write to the disk; pass --out on the disk" ;;
    esac
    [[ "$(df --output=source "$dir/data" | tail -n 1 | tr -d ' ')" == "$DATA_DEVICE" ]] ||
        log "warning: $dir is not on $DATA_DEVICE (the broker's disk); Redis's flushes are counted on $DISK_NAME anyway"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    log "limits 3/3: Redis baseline: redis-server on 127.0.0.1:$port, appendonly yes, appendfsync always, dir $dir/data"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/data" --appendonly yes \
        --appendfsync always --save '' --daemonize no --logfile "$dir/redis-server.log" &
    pid=$!
    STARTED_PIDS+=("$pid")
    for i in $(seq 100); do
        [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]] ||
        { tail -n 20 "$dir/redis-server.log" >&2; die "redis-server did not start"; }
    appendonly="$(redis-cli -p "$port" config get appendonly | tail -n 1)"
    appendfsync="$(redis-cli -p "$port" config get appendfsync | tail -n 1)"
    [[ "$appendonly" == yes && "$appendfsync" == always ]] ||
        die "redis-server runs with appendonly=$appendonly appendfsync=$appendfsync, not yes/always"
    value="$(head -c 1024 /dev/zero | tr '\0' x)"
    bench=(redis-benchmark -h 127.0.0.1 -p "$port" -c 1 -P 64 --csv)
    # Calibration: about a second's worth, to size the measured run.
    "${bench[@]}" -n 20000 XADD calibrate '*' f "$value" > "$dir/calibrate.csv" 2> "$dir/calibrate.log" &
    i=$!
    STARTED_PIDS+=("$i")
    wait_child "$i"
    [[ "$WAIT_STATUS" -eq 0 ]] || die "redis-benchmark (calibration) failed: $(cat "$dir/calibrate.log")"
    rps="$(python3 -c 'import csv,sys; print(float(list(csv.reader(open(sys.argv[1])))[1][1]))' "$dir/calibrate.csv")"
    n="$(python3 -c 'import sys; print(max(20000, int(float(sys.argv[1]) * int(sys.argv[2])) // 64 * 64))' "$rps" "$DURATION")"
    log "Redis baseline: calibration $rps requests/s; measuring $n XADDs (redis-benchmark -P 64 -c 1, 1 KiB values)"
    local flushes0 sectors0 cpu0 flushes1 sectors1 cpu1 t0 t1
    flushes0="$(disk_field 16)" sectors0="$(disk_field 7)"
    cpu0="$(awk '{ print $14 + $15 }' "/proc/$pid/stat")"
    t0="$EPOCHREALTIME"
    "${bench[@]}" -n "$n" XADD bench '*' f "$value" > "$dir/benchmark.csv" 2> "$dir/benchmark.log" &
    i=$!
    STARTED_PIDS+=("$i")
    wait_child "$i"
    [[ "$WAIT_STATUS" -eq 0 ]] || die "redis-benchmark failed: $(cat "$dir/benchmark.log")"
    t1="$EPOCHREALTIME"
    flushes1="$(disk_field 16)" sectors1="$(disk_field 7)"
    cpu1="$(awk '{ print $14 + $15 }' "/proc/$pid/stat")"
    local xlen version
    xlen="$(redis-cli -p "$port" xlen bench)"
    version="$(redis-server --version)"
    kill -TERM "$pid"
    wait_child "$pid"
    rm -rf "$dir/data"    # the AOF: ~1 KB per command
    python3 - "$dir/benchmark.csv" "$OUT/limits/redis.json" <<PY ||
import csv, json, os, sys
rows = list(csv.reader(open(sys.argv[1])))
head, row = rows[0], rows[1]
fig = dict(zip(head[1:], (float(v) for v in row[1:])))
n, xlen = $n, int("$xlen" or 0)
flushes, sectors = $flushes1 - $flushes0, $sectors1 - $sectors0
cpu_s = ($cpu1 - $cpu0) / os.sysconf("SC_CLK_TCK")
ok = flushes * 64 >= n // 2
json.dump({
    "version": "$version",
    "command": "redis-benchmark -h 127.0.0.1 -p PORT -c 1 -P 64 -n $n --csv XADD bench '*' f <1024 x>",
    "server": "redis-server --appendonly yes --appendfsync always --save '' (127.0.0.1, ephemeral port)",
    "config_get": {"appendonly": "$appendonly", "appendfsync": "$appendfsync"},
    "requests": n, "stream_length_after": xlen,
    "requests_per_s": fig["rps"],
    "latency_ms": {k: v for k, v in fig.items() if k != "rps"},
    "wall_s": $t1 - $t0,
    "disk": "$DISK_NAME", "disk_flushes": flushes, "disk_bytes_written": sectors * 512,
    "requests_per_flush": n / flushes if flushes else None,
    "server_cpu_s": cpu_s, "server_cpu_us_per_request": cpu_s * 1e6 / n,
    "fsync_in_effect": ok,
}, open(sys.argv[2], "w"), indent=2)
print(f"Redis {'$version'.split()[2]}: {fig['rps']:,.0f} XADD/s (-P 64 -c 1, 1 KiB), "
      f"{flushes:,} disk flushes ({n / flushes if flushes else 0:.1f} requests per flush), "
      f"server CPU {cpu_s * 1e6 / n:.2f} µs per request", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
        die "Redis baseline: $((flushes1 - flushes0)) disk flushes for $n commands: appendfsync always does not reach the disk (or the run failed; see $dir)"
}

# The limit every run's summary.json records (shardlog-loadtest --limits):
# min(fio O_DIRECT+fdatasync 1 MiB, iperf3 loopback), as results.md states it.
write_limits() {
    python3 - "$OUT/limits" "$SUITE_START" <<'PY'
import json, sys
limits, measured_at = sys.argv[1], sys.argv[2]
fio = json.load(open(f"{limits}/fio.json"))
iperf = json.load(open(f"{limits}/iperf3.json"))
fio_1m = next(j for j in fio["jobs"] if j["bs"] == "1m" and j["fdatasync"])["mb_s"]
ip_mb = iperf["end"]["sum_received"]["bits_per_second"] / 8e6
json.dump({"limit_mb_per_s": min(fio_1m, ip_mb),
           "limit_name": "fio O_DIRECT+fdatasync 1 MiB" if fio_1m <= ip_mb else "iperf3 loopback",
           "fio_fdatasync_1m_mb_per_s": fio_1m, "iperf3_loopback_mb_per_s": ip_mb,
           "measured_at": measured_at}, open(f"{limits}/limits.json", "w"), indent=2)
PY
}

# --- broker --------------------------------------------------------------------
BROKER_PID=""
BROKER_DATA_DIR=""
BROKER_ADDR=""
BROKER_METRICS=""
BROKER_LOG=""

start_broker() {
    local group="$1" dir="$DATA_BASE/$1" ready i
    rm -rf "$dir"
    mkdir -p "$dir"
    ready="$DATA_BASE/$group.ready"
    rm -f "$ready"
    BROKER_LOG="$OUT/brokers/$group.log"
    BROKER_DATA_DIR="$dir/data"
    "$BROKER_BIN" serve --data-dir "$BROKER_DATA_DIR" --listen 127.0.0.1:0 --ready-file "$ready" \
        --metrics-listen 127.0.0.1:0 > "$BROKER_LOG" 2>&1 &
    BROKER_PID=$!
    STARTED_PIDS+=("$BROKER_PID")
    for i in $(seq 300); do
        [[ -s "$ready" ]] && break
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ ! -s "$ready" ]]; then
        tail -n 20 "$BROKER_LOG" >&2
        die "broker for $group did not become ready"
    fi
    BROKER_ADDR="$(head -n 1 "$ready")"
    BROKER_METRICS="$(awk '$1 == "metrics" { print $2 }' "$ready")"
    [[ -n "$BROKER_METRICS" ]] || die "the broker's ready file has no metrics line (a broker older than --metrics-listen?)"
    log "group $group: broker pid $BROKER_PID at $BROKER_ADDR, metrics $BROKER_METRICS, data in $dir"
}

# Returns 0 when the broker stopped cleanly on SIGTERM (exit status 0).
stop_broker() {
    local group="$1" i status=0
    if kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID"
        for i in $(seq 300); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$BROKER_PID" 2>/dev/null; then
            log "group $group: broker still running 30 s after SIGTERM; killing it"
            kill -KILL "$BROKER_PID" 2>/dev/null || true
            status=1
        fi
    else
        log "group $group: broker had already exited"
        status=1
    fi
    wait_child "$BROKER_PID"
    echo "$WAIT_STATUS" > "$OUT/brokers/$group.exit"
    [[ "$WAIT_STATUS" -eq 0 ]] || status=1
    rm -rf "${DATA_BASE:?}/$group"
    if [[ "$status" -ne 0 ]]; then
        log "group $group: broker did not stop cleanly (exit status $WAIT_STATUS); its last lines:"
        tail -n 20 "$BROKER_LOG" >&2
    fi
    return "$status"
}

# --- one run -------------------------------------------------------------------
# Reads /proc while a run measures: from warmup (+ the harness's start-up)
# to the end of the measurement window, or until the harness exits.
read -r -d '' SAMPLER_PY <<'PY' || true
import json, os, sys, time
broker, harness, warmup, duration, disk, out, launched = (int(sys.argv[1]), int(sys.argv[2]),
    float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6], float(sys.argv[7]))
# The harness measures from ~0.15 s after it starts (topic creation, a 100 ms
# start delay) plus the warmup; stay inside its measurement window. Times
# count from the harness's launch (wall clock passed in), not from this
# sampler's start: python starts ~0.2-0.3 s later here, which pushed the
# window's end past the harness's stop (producers already gone).
skip, window = warmup + 0.3, max(duration - 0.4, 0.5)
tick = os.sysconf("SC_CLK_TCK")

def threads(pid):
    res = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return res
    for tid in tids:
        try:
            s = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        res[tid] = (comm, int(f[11]) + int(f[12]))
    return res

def proc_ticks(pid):
    try:
        f = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    f = f[f.rindex(")") + 2:].split()
    return int(f[11]) + int(f[12])

def cpu():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return {"total": sum(v[:8]), "idle": v[3], "iowait": v[4]}

def diskstats():
    for line in open("/proc/diskstats"):
        f = line.split()
        if f[2] == disk:
            return {"writes": int(f[7]), "sectors": int(f[9]),
                    "flushes": int(f[18]) if len(f) > 18 else None}
    return None

def snap():
    return {"t": time.monotonic(), "broker": proc_ticks(broker), "harness": proc_ticks(harness),
            "broker_threads": threads(broker), "harness_threads": threads(harness),
            "cpu": cpu(), "disk": diskstats()}

def alive(pid):
    try:
        return open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False

t0 = time.monotonic() - max(0.0, time.time() - launched)
while time.monotonic() - t0 < skip and alive(harness):
    time.sleep(0.05)
a = snap()
last = a
while time.monotonic() - t0 < skip + window and alive(harness):
    time.sleep(0.05)
    s = snap()
    if s["harness"] is not None:
        last = s
b = last
dt = b["t"] - a["t"]

def pct(x, y):
    return None if x is None or y is None or dt <= 0 else 100.0 * (y - x) / tick / dt

def per_thread(key):
    rows = []
    for tid, (comm, t1) in b[key].items():
        t0_ = a[key].get(tid, (comm, 0))[1]
        rows.append({"tid": int(tid), "comm": comm, "cpu_pct": 100.0 * (t1 - t0_) / tick / dt if dt > 0 else None})
    return sorted(rows, key=lambda r: -(r["cpu_pct"] or 0))

ncpu = os.cpu_count()
ct = b["cpu"]["total"] - a["cpu"]["total"]
res = {
    "window_s": dt,
    "broker_cpu_pct": pct(a["broker"], b["broker"]),
    "harness_cpu_pct": pct(a["harness"], b["harness"]),
    "broker_threads": per_thread("broker_threads"),
    "harness_threads": per_thread("harness_threads"),
    "machine_busy_pct": None if ct <= 0 else 100.0 * ncpu * (ct - (b["cpu"]["idle"] - a["cpu"]["idle"]) - (b["cpu"]["iowait"] - a["cpu"]["iowait"])) / ct,
    "machine_iowait_pct": None if ct <= 0 else 100.0 * ncpu * (b["cpu"]["iowait"] - a["cpu"]["iowait"]) / ct,
    "ncpu": ncpu,
}
if a["disk"] and b["disk"] and dt > 0:
    w = b["disk"]["writes"] - a["disk"]["writes"]
    sec = b["disk"]["sectors"] - a["disk"]["sectors"]
    res["disk_writes_per_s"] = w / dt
    res["disk_write_mb_per_s"] = sec * 512 / 1e6 / dt
    res["disk_avg_write_kib"] = (sec * 512 / 1024 / w) if w else None
    if a["disk"]["flushes"] is not None:
        res["disk_flushes_per_s"] = (b["disk"]["flushes"] - a["disk"]["flushes"]) / dt
json.dump(res, open(out, "w"), indent=2)
PY

# run_one SUITE GROUP NAME PARTITIONS ACKS MODE: the suite file's run NAME;
# its report goes to $OUT/runs/NAME/report (--suite-out $OUT), where the
# runs that take their rate from it find it.
run_one() {
    local suite="$1" group="$2" name="$3" partitions="$4" acks="$5" mode="$6"
    local dir="$OUT/runs/$name" args lt sp
    mkdir -p "$dir"
    args=(--suite "$suite" --suite-run "$name" --suite-out "$OUT"
          --broker "$BROKER_ADDR" --duration "$DURATION" --warmup "$WARMUP"
          --data-dir "$BROKER_DATA_DIR" --broker-metrics "$BROKER_METRICS"
          --limits "$OUT/limits/limits.json")
    log "run $name: shardlog-loadtest ${args[*]}"
    local launched="$EPOCHREALTIME"
    "$LOADTEST_BIN" "${args[@]}" > "$dir/stdout.txt" 2> "$dir/live.log" &
    lt=$!
    STARTED_PIDS+=("$lt")
    python3 -c "$SAMPLER_PY" "$BROKER_PID" "$lt" "$WARMUP" "$DURATION" "$DISK_NAME" \
        "$dir/resources.json" "$launched" 2> "$dir/sampler.log" &
    sp=$!
    STARTED_PIDS+=("$sp")
    wait_child "$lt"
    local lt_status="$WAIT_STATUS"
    wait_child "$sp"
    local broker_alive=1
    kill -0 "$BROKER_PID" 2>/dev/null || broker_alive=0
    python3 - "$dir/run.json" "$dir/report/summary.json" <<PY
import json, sys
try:
    rate = json.load(open(sys.argv[2])).get("target_records_per_s")
except (OSError, ValueError):
    rate = None
json.dump({"group": "$group", "name": "$name", "partitions": $partitions, "acks": "$acks",
           "mode": "$mode", "rate": rate, "exit_status": $lt_status,
           "suite": "$(basename "$suite")",
           "broker_alive_after": bool($broker_alive),
           "command": "shardlog-loadtest ${args[*]}".split()}, open(sys.argv[1], "w"), indent=2)
PY
    grep -v '^$' "$dir/stdout.txt" | head -n 12 >&2 || true
    if [[ "$lt_status" -ne 0 ]]; then
        log "run $name: shardlog-loadtest exited with $lt_status: $(tail -n 3 "$dir/live.log")"
        FAILED=1
    fi
    if [[ "$broker_alive" -eq 0 ]]; then
        log "run $name: THE BROKER DIED; its last lines:"
        tail -n 30 "$BROKER_LOG" >&2
        FAILED=1
        return 1
    fi
    return 0
}

# --- the suite -----------------------------------------------------------------
# run_plan SUITE: the suite's runs in order (group, name, partitions, acks,
# mode); a fresh broker for each group. A broker that dies ends its group.
run_plan() {
    local suite="$1" plan current_group="" group_broken=0 skip skipped
    local group name partitions acks mode
    plan="$("$LOADTEST_BIN" --suite "$suite" --suite-list)" ||
        die "shardlog-loadtest --suite-list failed on $suite (a release build older than --suite? cargo build --release -p loadtest)"
    # The plan comes in on fd 3, so nothing a run starts can read it.
    while IFS=$'\t' read -r group name partitions acks mode <&3; do
        skip=0
        for skipped in "${QUICK_SKIP_GROUPS[@]+"${QUICK_SKIP_GROUPS[@]}"}"; do
            [[ "$group" == "$skipped" ]] && skip=1
        done
        [[ "$skip" -eq 1 ]] && continue
        if [[ "$group" != "$current_group" ]]; then
            [[ -n "$current_group" ]] && { stop_broker "$current_group" || FAILED=1; }
            current_group="$group"
            group_broken=0
            start_broker "$group"
        fi
        if [[ "$group_broken" -eq 1 ]]; then
            log "run $name: skipped, the broker of group $group died"
            continue
        fi
        # results.md's labels: "max", "rate 25%", "one per request".
        case "$mode" in
            "rate "*) mode="${mode%% of *}" ;;
        esac
        [[ "$name" == *one-per-request ]] && mode="one per request"
        [[ "$name" == *pipeline* ]] && mode="pipelined"
        run_one "$suite" "$group" "$name" "$partitions" "$acks" "$mode" || group_broken=1
    done 3<<< "$plan"
    [[ -n "$current_group" ]] && { stop_broker "$current_group" || FAILED=1; }
    return 0
}

SUITE_START="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
measure_fio
measure_iperf3
measure_redis
write_limits

# The standard suite (not with --goals-only), then the goals' runs, then
# goal 6 (10,000 partitions; not with --quick: it takes a few minutes).
[[ "$GOALS_ONLY" -eq 1 ]] || run_plan "$SUITE_FILE"
run_plan "$GOALS_FILE"
if [[ "$QUICK" -eq 0 ]]; then
    log "goal 6: scripts/many-partitions.sh (10 topics x 1000 partitions)"
    if ! "$ROOT/scripts/many-partitions.sh" --json "$OUT/many-partitions.json" \
        >"$OUT/many-partitions.md" 2>"$OUT/many-partitions.log"; then
        log "many-partitions.sh failed; see $OUT/many-partitions.log"
        FAILED=1
    fi
fi
SUITE_END="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# --- results -------------------------------------------------------------------
export BENCH_OUT="$OUT" BENCH_START="$SUITE_START" BENCH_END="$SUITE_END" \
    BENCH_DURATION="$DURATION" BENCH_WARMUP="$WARMUP" BENCH_QUICK="$QUICK" \
    BENCH_FSTYPE="$DATA_FSTYPE" BENCH_DEVICE="$DATA_DEVICE" BENCH_SUITE="$SUITE_FILE" \
    BENCH_GOALS_ONLY="$GOALS_ONLY" BENCH_GOALS_FILE="$GOALS_FILE"
python3 - <<'PY'
import glob, json, os

out = os.environ["BENCH_OUT"]
env = os.environ

def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None

fio = load(f"{out}/limits/fio.json")
iperf = load(f"{out}/limits/iperf3.json")
fio_1m = next(j for j in fio["jobs"] if j["bs"] == "1m" and j["fdatasync"])["mb_s"]
ip_bps = iperf["end"]["sum_received"]["bits_per_second"]
ip_mb = ip_bps / 8e6
limit = min(fio_1m, ip_mb)
limit_name = "fio O_DIRECT+fdatasync 1 MiB" if fio_1m <= ip_mb else "iperf3 loopback"

runs = []
for path in sorted(glob.glob(f"{out}/runs/*/run.json")):
    d = os.path.dirname(path)
    r = load(path)
    r["summary"] = load(f"{d}/report/summary.json")
    r["resources"] = load(f"{d}/resources.json")
    runs.append(r)

group_order = []
for p in (1, 16, 64):
    for a in ("durable", "written"):
        group_order.append(f"p{p}-{a}")
group_order.append("p64-durable-one-per-request")
group_order += ["goal1", "goal3", "goal4-5", "goal5-one"]
mode_order = {"max": 0, "rate 25%": 1, "rate 50%": 2, "rate 75%": 3, "one per request": 4, "pipelined": 5}
goals_suite = os.path.basename(env["BENCH_GOALS_FILE"])
redis = load(f"{out}/limits/redis.json")
runs.sort(key=lambda r: (group_order.index(r["group"]) if r["group"] in group_order else 99,
                         mode_order.get(r["mode"], 9)))

def f(v, d=0):
    return "-" if v is None else f"{v:,.{d}f}"

def ms(us):
    return "-" if us is None else f"{us / 1000:,.3f}" if us < 10_000 else f"{us / 1000:,.1f}"

def errs(r):
    s = r["summary"]
    if s is None:
        return f"no summary (exit {r['exit_status']})"
    e = dict(s.get("errors") or {})
    parts = [f"{k}: {v}" for k, v in e.items()]
    if s.get("records_failed"):
        parts.append(f"failed: {s['records_failed']}")
    if r["exit_status"]:
        parts.append(f"exit {r['exit_status']}")
    if not r.get("broker_alive_after", True):
        parts.append("BROKER DIED")
    return ", ".join(parts) or "0"

lines = []
P = lines.append
m = fio["machine"]
P(f"# shardlog benchmark suite (scripts/bench.sh), {env['BENCH_START']} .. {env['BENCH_END']}")
P("")
P(f"Machine: {m['nproc']} cores, {m['cpu']}, kernel {m['kernel']}; data on {env['BENCH_DEVICE']} "
  f"({env['BENCH_FSTYPE']}). Runs: {env['BENCH_WARMUP']} s warmup + {env['BENCH_DURATION']} s measured"
  f"{' (--quick)' if env['BENCH_QUICK'] == '1' else ''}; workloads from "
  + (f"{env['BENCH_GOALS_FILE']} only (--goals-only); " if env['BENCH_GOALS_ONLY'] == '1' else
     f"{env['BENCH_SUITE']} (the standard suite: 1 topic per run, 1 KiB records, 4 producers, "
     f"4 consumers), then {env['BENCH_GOALS_FILE']}; ") +
  "MB = 10^6 bytes of record values.")
P("")
P("## Limits (same run)")
P("")
r = fio["run"]
P(f"fio {r['fio_version']}, {r['ioengine']}, O_DIRECT, iodepth 1, sequential writes into a fresh "
  f"fallocated file, up to {r['runtime_limit_s']} s per job:")
P("")
P("| bs | fdatasync | IOPS | MB/s | write p50 µs | write p99 µs | sync p50 µs | sync p99 µs |")
P("|---:|:---:|---:|---:|---:|---:|---:|---:|")
for j in fio["jobs"]:
    P(f"| {j['bs']} | {'yes' if j['fdatasync'] else 'no'} | {f(j['iops'])} | {f(j['mb_s'], 1)} | "
      f"{f(j['write_p50_us'])} | {f(j['write_p99_us'])} | {f(j['sync_p50_us'])} | {f(j['sync_p99_us'])} |")
P("")
st = iperf["start"]["test_start"]
P(f"iperf3 {iperf['start'].get('version', '')}, loopback 127.0.0.1, {st['num_streams']} stream, "
  f"{st['duration']} s: **{ip_bps / 1e9:.2f} Gbit/s = {ip_mb:,.0f} MB/s** "
  f"(sender CPU {iperf['end']['cpu_utilization_percent']['host_total']:.0f}%, "
  f"receiver {iperf['end']['cpu_utilization_percent']['remote_total']:.0f}%).")
P("")
P(f"**limit = min(fio O_DIRECT+fdatasync 1 MiB {fio_1m:,.1f} MB/s, iperf3 loopback {ip_mb:,.0f} MB/s) "
  f"= {limit:,.1f} MB/s** ({limit_name}); \"× limit\" columns divide by it.")
P("")

P("## Results")
groups = []
for rr in runs:
    if rr["group"] not in groups:
        groups.append(rr["group"])
for g in groups:
    P("")
    P(f"### {g}")
    P("")
    P("| partitions | acks | mode | target rec/s | produce rec/s | produce MB/s | × limit | consume MB/s | × limit | ack p50 ms | ack p99 ms | ack p99.99 ms | e2e p99 ms | errors |")
    P("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for rr in (x for x in runs if x["group"] == g):
        s = rr["summary"] or {}
        pm, cm = s.get("produce_mb_per_s"), s.get("consume_mb_per_s")
        P(f"| {rr['partitions']} | {rr['acks']} | {rr['mode']} | {f(rr['rate'])} | {f(s.get('produce_records_per_s'))} | "
          f"{f(pm, 1)} | {f(pm / limit if pm is not None else None, 2)} | {f(cm, 1)} | "
          f"{f(cm / limit if cm is not None else None, 2)} | {ms(s.get('produce_ack_p50_us'))} | "
          f"{ms(s.get('produce_ack_p99_us'))} | {ms(s.get('produce_ack_p9999_us'))} | {ms(s.get('e2e_p99_us'))} | {errs(rr)} |")

P("")
P("## Resources during each measured window (from /proc)")
P("")
P(f"CPU in % of one core (the machine has {m['nproc']}); the broker's busiest threads as name:%; "
  "disk = the data disk's writes, MB written and flushes (one per fdatasync that reaches it) per "
  "second, and the average write size.")
P("")
P("The last three columns are the harness's own (summary.json's `broker_usage` and `disk_usage`, "
  "`--broker-metrics` and `--data-dir`): the broker's process_cpu_seconds_total over the measured "
  "window per record and per produce request (counted by the harness with `--pipeline`, else by "
  "the broker), and the data disk's bytes written per record byte (value + key) acknowledged.")
P("")
P("| run | broker CPU % | harness CPU % | machine busy % | iowait % | broker threads | disk writes/s | disk MB/s | flushes/s | avg write KiB | broker µs/record | broker µs/request | disk B per record B |")
P("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for rr in runs:
    x = rr["resources"] or {}
    su = (rr["summary"] or {})
    bu, du = su.get("broker_usage") or {}, su.get("disk_usage") or {}
    top = ", ".join(f"{t['comm']}:{t['cpu_pct']:.0f}" for t in (x.get("broker_threads") or [])[:3]
                    if t["cpu_pct"] is not None and t["cpu_pct"] >= 1)
    P(f"| {rr['name']} | {f(x.get('broker_cpu_pct'))} | {f(x.get('harness_cpu_pct'))} | "
      f"{f(x.get('machine_busy_pct'))} | {f(x.get('machine_iowait_pct'))} | {top or '-'} | "
      f"{f(x.get('disk_writes_per_s'))} | {f(x.get('disk_write_mb_per_s'), 1)} | "
      f"{f(x.get('disk_flushes_per_s'))} | {f(x.get('disk_avg_write_kib'), 1)} | "
      f"{f(bu.get('cpu_us_per_record'), 2)} | {f(bu.get('cpu_us_per_request'), 2)}"
      f"{' (broker)' if bu.get('requests_counted_by') == 'broker' else ''} | "
      f"{f(du.get('bytes_per_record_byte'), 2)} |")

by_name = {rr["name"]: rr for rr in runs}
def summ(name):
    rr = by_name.get(name)
    return (rr or {}).get("summary") or {}

targets = []
b = summ("p16-durable-max").get("produce_mb_per_s")
if b is not None:
    ok = b >= 1000 and b >= 0.5 * limit
    targets.append(("durable produce, 1 KiB, batched (p16-durable-max): ≥ 1 GB/s and ≥ 0.5 × limit",
                    f"{b:,.1f} MB/s", f"{limit:,.1f} MB/s ({limit_name}); 1 GB/s",
                    f"{b / limit:.2f} of limit, {b / 1000:.2f} of 1 GB/s", ok))
o = summ("p64-durable-one-per-request").get("produce_records_per_s")
if o is not None:
    targets.append(("durable produce, one record per request, 64 in flight per producer: ≥ 300k records/s",
                    f"{o:,.0f} records/s", "300,000 records/s", f"{o / 300000:.2f}", o >= 300000))
for p in (1, 16, 64):
    s = summ(f"p{p}-durable-r50")
    if s:
        p99, p9999 = s["produce_ack_p99_us"], s["produce_ack_p9999_us"]
        targets.append((f"produce-ack p99 < 1 ms and p99.99 < 5 ms at 50% of max, durable, {p} partition(s) "
                        f"({f(by_name[f'p{p}-durable-r50']['rate'])} rec/s)",
                        f"p99 {ms(p99)} ms, p99.99 {ms(p9999)} ms", "1 ms; 5 ms",
                        f"{p99 / 1000:.2f}; {p9999 / 5000:.2f}", p99 < 1000 and p9999 < 5000))
best = max((rr for rr in runs if rr["summary"] and rr.get("suite") != goals_suite),
           key=lambda rr: rr["summary"]["consume_mb_per_s"], default=None)
if best:
    c = best["summary"]["consume_mb_per_s"]
    targets.append((f"consume from the tail: ≥ 2 GB/s (best run: {best['name']})", f"{c:,.1f} MB/s",
                    f"2 GB/s; iperf3 loopback {ip_mb:,.0f} MB/s", f"{c / 2000:.2f} of 2 GB/s, {c / ip_mb:.2f} of loopback",
                    c >= 2000))
if targets:
    P("")
    P("## Against the targets")
    P("")
    P("| target | figure | limit (same run) | ratio | verdict |")
    P("|---|---|---|---:|---|")
for t, fig, lim, ratio, ok in targets:
    P(f"| {t} | {fig} | {lim} | {ratio} | {'met' if ok else '**missed**'} |")

# --- issue 14's goals, each a ratio to a figure of the same run -----------------
fio4k = next((j for j in fio["jobs"] if j["bs"] == "4k" and j["fdatasync"]), {})
goals = []
def goal(name, figure, reference, ratio, threshold, ok, note=""):
    goals.append({"goal": name, "figure": figure, "reference": reference,
                  "ratio": ratio, "threshold": threshold,
                  "verdict": None if ok is None else ("MET" if ok else "MISSED"), "note": note})
def ratio_or_none(a, b):
    return None if a is None or not b else a / b

g1 = summ("goal1-pipeline64-p1")
g1_rps = g1.get("produce_records_per_s")
redis_rps = (redis or {}).get("requests_per_s")
r = ratio_or_none(g1_rps, redis_rps)
goal("1: one record per request, 64 pipelined, 1 partition vs Redis (appendfsync always, XADD 1 KiB, -P 64 -c 1)",
     f"{f(g1_rps)} records/s", f"Redis {f(redis_rps)} XADD/s", r, "≥ 3", None if r is None else r >= 3)
bu = g1.get("broker_usage") or {}
cpu = bu.get("cpu_us_per_request")
goal("2: broker CPU per request of goal 1's run (utime+stime / requests)",
     "-" if cpu is None else f"{cpu:.2f} µs/request ({bu.get('cpu_seconds', 0):.2f} s for {f(bu.get('requests'))} requests)",
     "8 µs", ratio_or_none(cpu, 8.0), "≤ 1 (≤ 8 µs)", None if cpu is None else cpu <= 8.0,
     f"Redis server: {(redis or {}).get('server_cpu_us_per_request', 0):.2f} µs/request" if redis else "")
g3 = summ("goal3-pipeline64-p64").get("produce_records_per_s")
r = ratio_or_none(g3, g1_rps)
goal("3: 64 partitions, 64 in flight in all (one producer) vs goal 1",
     f"{f(g3)} records/s", f"goal 1 {f(g1_rps)} records/s", r, "≥ 0.8", None if r is None else r >= 0.8)
g4 = summ("goal4-batched-p16-max")
g4_mb = g4.get("produce_mb_per_s")
r = ratio_or_none(g4_mb, fio_1m)
goal("4: batched durable, 16 partitions, 1 KiB vs fio O_DIRECT 1 MiB + fdatasync",
     f"{f(g4_mb, 1)} MB/s", f"fio {f(fio_1m, 1)} MB/s", r, "≥ 0.8", None if r is None else r >= 0.8)
du = g4.get("disk_usage") or {}
bpr = du.get("bytes_per_record_byte")
goal("4: disk bytes written per record byte in goal 4's run (/proc/diskstats)",
     "-" if bpr is None else f"{bpr:.3f} ({f((du.get('bytes_written') or 0) / 1e6, 1)} MB for {f(du.get('record_bytes', 0) / 1e6, 1)} MB of records on {du.get('device')})",
     "1", bpr, "close to 1 (≤ 1.1 here)", None if bpr is None else bpr <= 1.1,
     "the issue says 'close to 1'; 1.1 is this script's reading of it. The device's every write counts, "
     "the journal's and other processes' too")
g5 = summ("goal5-batched-p16-r50")
c50, c99, c999 = fio4k.get("commit_p50_us"), fio4k.get("commit_p99_us"), fio4k.get("commit_p999_us")
p99 = (g5.get("produce_ack") or {}).get("p99_us")
p999 = (g5.get("produce_ack") or {}).get("p999_us")
rate5 = (by_name.get("goal5-batched-p16-r50") or {}).get("rate")
r = ratio_or_none(p99, c99)
goal(f"5: ack p99, open loop at 50% of goal 4 ({f(rate5)} records/s) vs fio 4 KiB write+fdatasync p99",
     f"{ms(p99)} ms", f"fio {ms(c99)} ms", r, "≤ 10", None if r is None else r <= 10)
r = ratio_or_none(p999, c99)
goal("5: ack p99.9 of the same run vs fio 4 KiB write+fdatasync p99",
     f"{ms(p999)} ms", f"fio {ms(c99)} ms (its p99.9: {ms(c999)} ms)", r, "≤ 25", None if r is None else r <= 25)
one = (summ("goal5-pipeline1-p1").get("produce_ack") or {}).get("p50_us")
r = ratio_or_none(one, c50)
goal("5: one producer waiting for each ack (--pipeline 1, 1 partition): ack p50 vs fio 4 KiB write+fdatasync p50",
     f"{ms(one)} ms", f"fio {ms(c50)} ms", r, "≤ 1.3", None if r is None else r <= 1.3)

P("")
P("## Goals (issue 14, \"Durable and fast\")")
P("")
if redis:
    P(f"Redis baseline ({redis['version'].split()[2]}): `{redis['command']}` against `{redis['server']}`: "
      f"**{redis['requests_per_s']:,.0f} XADD/s**; CONFIG GET appendonly={redis['config_get']['appendonly']} "
      f"appendfsync={redis['config_get']['appendfsync']}; the disk completed {redis['disk_flushes']:,} flushes "
      f"over its {redis['requests']:,} commands ({redis['requests_per_flush'] or 0:.1f} commands per flush), "
      f"server CPU {redis['server_cpu_us_per_request']:.2f} µs per command.")
    P("")
P(f"fio 4 KiB write+fdatasync (O_DIRECT, iodepth 1): p50 {ms(c50)} ms, p99 {ms(c99)} ms, p99.9 {ms(c999)} ms, "
  "each the write's percentile plus the fdatasync's (fio reports the two apart). "
  f"fio 1 MiB write+fdatasync: {fio_1m:,.1f} MB/s.")
P("")
P("| goal | figure | reference (same run) | ratio | threshold | verdict |")
P("|---|---|---|---:|---|---|")
for g in goals:
    verdict = "-" if g["verdict"] is None else ("MET" if g["verdict"] == "MET" else "**MISSED**")
    note = f" ({g['note']})" if g["note"] else ""
    P(f"| {g['goal']}{note} | {g['figure']} | {g['reference']} | {f(g['ratio'], 2)} | {g['threshold']} | {verdict} |")

many = load(f"{out}/many-partitions.json")
if many:
    P("")
    P(f"Goal 6, `scripts/many-partitions.sh` (same run): {many['partitions']:,} partitions over "
      f"{many['topics']} topics, created in {many['created_s']:.2f} s, {many['open_descriptors']:,} open descriptors:")
    P("")
    P("| goal 6 | figure | goal | verdict |")
    P("|---|---|---|---|")
    for r in many["rows"]:
        shown = {None: "-", "MET": "MET", "MISSED": "**MISSED**"}[r["verdict"]]
        P(f"| {r['goal']} | {r['figure']} | {r['threshold']} | {shown} |")

text = "\n".join(lines) + "\n"
open(f"{out}/results.md", "w").write(text)
print(text)
json.dump({"limits": {"fio": fio, "iperf3_mb_per_s": ip_mb, "limit_mb_per_s": limit, "limit_name": limit_name},
           "redis": redis, "goals": goals, "many_partitions": many, "runs": runs},
          open(f"{out}/results.json", "w"), indent=2)
PY

log "results in $OUT/results.md"
[[ "$FAILED" -eq 0 ]] || { log "some runs failed or the broker misbehaved; see above"; exit 1; }

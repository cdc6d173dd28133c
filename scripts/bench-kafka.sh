#!/usr/bin/env bash
# shardlog and Apache Kafka side by side: the same workloads, driven by the
# same harness (shardlog-loadtest) in one run, against
#
#   kafka-flush      Apache Kafka 4.x, log.flush.interval.messages=1: fsync
#                    before the ack, as shardlog's durable acks;
#   kafka-default    Apache Kafka 4.x as shipped: acks=all is answered from
#                    the page cache, no fsync;
#   shardlog-kafka   shardlog (durable acks, its default) through its Kafka
#                    port;
#   shardlog-native  shardlog through its native protocol, for reference.
#
# The first three go through librdkafka (shardlog-loadtest --protocol kafka),
# so they compare the brokers with the same client; the native run uses
# shardlog's own client.
#
# Kafka is a single-node KRaft broker on loopback, from Maven Central's jars,
# started and stopped by scripts/kafka-reference.sh, with the JVM options of
# Kafka's own kafka-server-start.sh (KAFKA_JAVA_OPTS overrides them) and
# Kafka's defaults otherwise (num.io.threads 8, num.network.threads 3).
#
# Workloads: loadtest/suites/kafka-side-by-side.toml (--suite FILE for
# another): batched durable (16 partitions) and one record per request
# (64 partitions, --batch-bytes 1200 --linger-ms 0 --inflight 64), both
# acks=all, 4 producers, 4 consumers at the tail, 1 KiB records.
#
# Order: for each round, for each workload, the four brokers one after the
# other, so a noisy machine hits all of them alike. Every run gets a fresh
# broker on a fresh data dir under <repo>/tmp (the real disk: tmpfs is
# refused), stopped afterwards. Before the measured run, the same workload
# runs unmeasured for --broker-warmup seconds (default 10) on the same topic,
# for every broker alike: a JVM fresh from start runs Kafka interpreted and
# compiles it while it works (one record per request went from 5k to 10k
# records/s between a JVM's first and third 8 s run here), which the
# harness's own few seconds of warmup do not cover.
#
# The broker's CPU per record: the broker process's utime + stime (for Kafka,
# the JVM's /proc/<pid>/stat, every thread) from just before the harness
# starts to just after it exits, divided by the records acknowledged in that
# time (warmup included). It covers serving the consumers too. Start-up
# (JVM, class loading) and the broker warmup run are not in it; whatever JIT
# compilation is left during the measured run is.
#
# Output: $OUT/runs/ROUND/BROKER/runs/WORKLOAD/ (report/ with summary.json,
# stdout.txt, live.log, run.json: CPU ticks, load average before and after),
# $OUT/brokers/ (each broker's log), $OUT/results.md, $OUT/results.json.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
ALL_BROKERS=(kafka-flush kafka-default shardlog-kafka shardlog-native)

DURATION=""
WARMUP=""
OUT=""
ROUNDS=1
BROKER_WARMUP=""
QUICK=0
SUITE_FILE="$ROOT/loadtest/suites/kafka-side-by-side.toml"
BROKERS=("${ALL_BROKERS[@]}")

usage() {
    cat <<EOF
Usage: $(basename "$0") [--duration S] [--warmup S] [--broker-warmup S] [--rounds N]
                       [--out DIR] [--quick] [--suite FILE] [--brokers LIST]
       scripts/bench.sh --against-kafka [the same options]

Runs the side-by-side suite against Apache Kafka 4.x with per-message
flush, Apache Kafka as shipped, shardlog through its Kafka port and
shardlog through its native protocol, and writes results.md: records/s,
ack p99 and broker CPU per record of each, and shardlog's ratios to Kafka.
(The comment at the top of this script has the details.)

Options:
  --duration S    measured seconds per run (default: 10)
  --warmup S      warmup seconds per run before measuring (default: 2)
  --broker-warmup S  seconds of the same load, unmeasured, on every fresh
                  broker before its measured run (default: 10; 0: none)
  --rounds N      run every workload on every broker N times, interleaved
                  (default: 1); results.md gives the median and every value
  --out DIR       output directory (default: <repo>/tmp/bench-kafka/<UTC timestamp>)
  --quick         3 s runs, 1 s warmup, 2 s broker warmup: to try the script
  --suite FILE    the workloads (default: loadtest/suites/kafka-side-by-side.toml);
                  --duration and --warmup override the file's
  --brokers LIST  comma-separated subset of: ${ALL_BROKERS[*]}
                  (default: all four)
  -h, --help      show this help

Needs java 17+, mvn (the first time, to resolve Kafka's jars; see
scripts/kafka-reference.sh) and python3.
EOF
}

log() { echo "bench-kafka $(date -u +%H:%M:%S): $*" >&2; }
die() { log "error: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) [[ $# -ge 2 ]] || die "--duration needs a value"; DURATION="$2"; shift 2 ;;
        --warmup)   [[ $# -ge 2 ]] || die "--warmup needs a value"; WARMUP="$2"; shift 2 ;;
        --rounds)   [[ $# -ge 2 ]] || die "--rounds needs a value"; ROUNDS="$2"; shift 2 ;;
        --broker-warmup) [[ $# -ge 2 ]] || die "--broker-warmup needs a value"; BROKER_WARMUP="$2"; shift 2 ;;
        --out)      [[ $# -ge 2 ]] || die "--out needs a value"; OUT="$2"; shift 2 ;;
        --quick)    QUICK=1; shift ;;
        --suite)    [[ $# -ge 2 ]] || die "--suite needs a value"; SUITE_FILE="$2"; shift 2 ;;
        --brokers)  [[ $# -ge 2 ]] || die "--brokers needs a value"; IFS=, read -r -a BROKERS <<< "$2"; shift 2 ;;
        -h|--help)  usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

if [[ "$QUICK" -eq 1 ]]; then
    DURATION="${DURATION:-3}"
    WARMUP="${WARMUP:-1}"
    BROKER_WARMUP="${BROKER_WARMUP:-2}"
else
    DURATION="${DURATION:-10}"
    WARMUP="${WARMUP:-2}"
    BROKER_WARMUP="${BROKER_WARMUP:-10}"
fi
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive integer (seconds)"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "--warmup must be a non-negative integer (seconds)"
[[ "$BROKER_WARMUP" =~ ^[0-9]+$ ]] || die "--broker-warmup must be a non-negative integer (seconds)"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
for broker in "${BROKERS[@]}"; do
    [[ " ${ALL_BROKERS[*]} " == *" $broker "* ]] || die "--brokers: unknown broker $broker (${ALL_BROKERS[*]})"
done
OUT="${OUT:-$ROOT/tmp/bench-kafka/$STAMP}"
[[ -f "$SUITE_FILE" ]] || die "no suite file $SUITE_FILE"
SUITE_FILE="$(cd "$(dirname "$SUITE_FILE")" && pwd)/$(basename "$SUITE_FILE")"

BROKER_BIN="$ROOT/target/release/shardlog"
LOADTEST_BIN="$ROOT/target/release/shardlog-loadtest"
KAFKA_REF="$ROOT/scripts/kafka-reference.sh"
# Kafka's bin/kafka-server-start.sh and kafka-run-class.sh defaults.
export KAFKA_JAVA_OPTS="${KAFKA_JAVA_OPTS:--Xmx1G -Xms1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"

# The broker running now: a shardlog child (SHARDLOG_PID) or a Kafka started
# by kafka-reference.sh in KAFKA_DIR. The EXIT trap stops whichever is left.
SHARDLOG_PID=""
KAFKA_DIR=""
HARNESS_PID=""
DATA_BASE=""
FAILED=0

cleanup() {
    local status=$? i
    trap - EXIT INT TERM
    if [[ -n "$HARNESS_PID" ]]; then
        kill -TERM "$HARNESS_PID" 2>/dev/null || true
        wait "$HARNESS_PID" 2>/dev/null || true
    fi
    if [[ -n "$SHARDLOG_PID" ]]; then
        kill -TERM "$SHARDLOG_PID" 2>/dev/null || true
        for i in $(seq 200); do kill -0 "$SHARDLOG_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SHARDLOG_PID" 2>/dev/null || true
        wait "$SHARDLOG_PID" 2>/dev/null || true
    fi
    [[ -n "$KAFKA_DIR" ]] && "$KAFKA_REF" stop "$KAFKA_DIR" || true
    if [[ -n "$DATA_BASE" && -d "$DATA_BASE" ]]; then rm -rf "$DATA_BASE"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"/{runs,brokers}
OUT="$(cd "$OUT" && pwd)"
log "output in $OUT"

# --- binaries and data dir -----------------------------------------------------
# Always: a binary left from an older commit would be measured silently.
log "building release binaries (before any measurement)"
(cd "$ROOT" && cargo build --release -p shardlog -p loadtest) >&2
"$LOADTEST_BIN" --help | grep -q -- '--protocol' ||
    die "$LOADTEST_BIN has no --protocol: an old build? cargo build --release -p loadtest"

DATA_BASE="$ROOT/tmp/bench-kafka-data-$STAMP-$$"
mkdir -p "$DATA_BASE"
DATA_FSTYPE="$(df --output=fstype "$DATA_BASE" | tail -n 1 | tr -d ' ')"
DATA_DEVICE="$(df --output=source "$DATA_BASE" | tail -n 1 | tr -d ' ')"
case "$DATA_FSTYPE" in
    tmpfs|ramfs|devtmpfs) die "$DATA_BASE is on $DATA_FSTYPE, not a disk" ;;
esac

# --- brokers -------------------------------------------------------------------
# start_broker BROKER LABEL: sets BROKER_PID (whose CPU is counted),
# BROKER_ADDR, PROTOCOL, BROKER_DATA_DIR.
start_broker() {
    local broker="$1" label="$2" dir="$DATA_BASE/$2" ready i
    rm -rf "$dir"
    mkdir -p "$dir"
    case "$broker" in
        kafka-*)
            local flags=()
            [[ "$broker" == kafka-flush ]] && flags+=(--flush-every-message)
            KAFKA_DIR="$dir/kafka"
            BROKER_ADDR="$("$KAFKA_REF" start "$KAFKA_DIR" "${flags[@]+"${flags[@]}"}" 2> "$OUT/brokers/$label.start.log")" ||
                { cat "$OUT/brokers/$label.start.log" >&2; die "$label: Kafka did not start"; }
            BROKER_PID="$(cat "$KAFKA_DIR/kafka.pid")"
            [[ "$(cat "/proc/$BROKER_PID/comm" 2>/dev/null)" == java ]] ||
                die "$label: pid $BROKER_PID in $KAFKA_DIR/kafka.pid is not the JVM"
            BROKER_DATA_DIR="$KAFKA_DIR/data"
            PROTOCOL=kafka
            ;;
        shardlog-*)
            ready="$dir/ready"
            BROKER_DATA_DIR="$dir/data"
            RUST_LOG=warn "$BROKER_BIN" serve --data-dir "$BROKER_DATA_DIR" --listen 127.0.0.1:0 \
                --kafka-listen 127.0.0.1:0 --ready-file "$ready" > "$OUT/brokers/$label.log" 2>&1 &
            SHARDLOG_PID=$!
            BROKER_PID="$SHARDLOG_PID"
            # The ready file: the native address first, then "kafka HOST:PORT".
            for i in $(seq 300); do
                [[ -s "$ready" ]] && grep -q '^kafka ' "$ready" && break
                kill -0 "$SHARDLOG_PID" 2>/dev/null || break
                sleep 0.1
            done
            grep -q '^kafka ' "$ready" 2>/dev/null ||
                { tail -n 20 "$OUT/brokers/$label.log" >&2; die "$label: shardlog did not become ready"; }
            if [[ "$broker" == shardlog-kafka ]]; then
                BROKER_ADDR="$(awk '$1 == "kafka" {print $2; exit}' "$ready")"
                PROTOCOL=kafka
            else
                BROKER_ADDR="$(head -n 1 "$ready")"
                PROTOCOL=native
            fi
            ;;
    esac
    log "$label: pid $BROKER_PID at $BROKER_ADDR ($PROTOCOL)"
}

# stop_broker LABEL: returns non-zero when the broker had died or did not
# stop cleanly.
stop_broker() {
    local label="$1" status=0 i
    if [[ -n "$KAFKA_DIR" ]]; then
        kill -0 "$BROKER_PID" 2>/dev/null || { log "$label: Kafka had already exited"; status=1; }
        "$KAFKA_REF" stop "$KAFKA_DIR" --keep-logs
        mv "$KAFKA_DIR/kafka.log" "$OUT/brokers/$label.log" 2>/dev/null || true
        KAFKA_DIR=""
    elif [[ -n "$SHARDLOG_PID" ]]; then
        if kill -0 "$SHARDLOG_PID" 2>/dev/null; then
            kill -TERM "$SHARDLOG_PID"
            for i in $(seq 300); do kill -0 "$SHARDLOG_PID" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$SHARDLOG_PID" 2>/dev/null && { log "$label: still running 30 s after SIGTERM; killing it"; kill -KILL "$SHARDLOG_PID"; }
        fi
        wait "$SHARDLOG_PID" || status=$?
        [[ "$status" -eq 0 ]] || log "$label: shardlog exited with $status"
        SHARDLOG_PID=""
    fi
    rm -rf "${DATA_BASE:?}/$label"
    return "$status"
}

# --- one run -------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime
machine_ticks() { awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6; exit}' /proc/stat; }  # total, idle+iowait
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# run_one ROUND BROKER WORKLOAD
run_one() {
    local round="$1" broker="$2" name="$3" label="r$1-$2-$3"
    local dir="$OUT/runs/$round/$broker" args status=0 broker_alive=1
    local run_dir="$dir/runs/$name"    # where --suite-out puts the run's report/
    mkdir -p "$run_dir"
    start_broker "$broker" "$label"
    args=(--suite "$SUITE_FILE" --suite-run "$name" --protocol "$PROTOCOL" --broker "$BROKER_ADDR"
          --data-dir "$BROKER_DATA_DIR")
    if [[ "$BROKER_WARMUP" -gt 0 ]]; then
        log "$label: broker warmup, ${BROKER_WARMUP} s of the same load"
        "$LOADTEST_BIN" "${args[@]}" --suite-out "$dir/broker-warmup" --duration "$BROKER_WARMUP" \
            --warmup 0 > "$run_dir/broker-warmup.txt" 2>&1 &
        HARNESS_PID=$!
        wait "$HARNESS_PID" || { log "$label: the broker warmup failed: $(tail -n 3 "$run_dir/broker-warmup.txt")"; FAILED=1; }
        HARNESS_PID=""
    fi
    args+=(--suite-out "$dir" --duration "$DURATION" --warmup "$WARMUP")
    local load_before ticks_before machine_before started
    load_before="$(loadavg)"
    machine_before="$(machine_ticks)"
    ticks_before="$(cpu_ticks "$BROKER_PID")"
    started="$EPOCHREALTIME"
    log "$label: shardlog-loadtest ${args[*]}"
    "$LOADTEST_BIN" "${args[@]}" > "$run_dir/stdout.txt" 2> "$run_dir/live.log" &
    HARNESS_PID=$!
    wait "$HARNESS_PID" || status=$?
    HARNESS_PID=""
    local ended="$EPOCHREALTIME" ticks_after="" machine_after load_after
    ticks_after="$(cpu_ticks "$BROKER_PID" 2>/dev/null)" || broker_alive=0
    machine_after="$(machine_ticks)"
    load_after="$(loadavg)"
    python3 - "$run_dir/run.json" <<PY
import json, sys
after = "$ticks_after"
m0, m1 = [int(x) for x in "$machine_before".split()], [int(x) for x in "$machine_after".split()]
total = m1[0] - m0[0]
json.dump({"round": $round, "broker": "$broker", "workload": "$name", "protocol": "$PROTOCOL",
           "broker_pid": $BROKER_PID, "exit_status": $status, "broker_alive_after": bool($broker_alive),
           "broker_warmup_s": $BROKER_WARMUP, "wall_s": $ended - $started,
           "broker_cpu_ticks": int(after) - $ticks_before if after else None,
           "clock_ticks_per_s": $(getconf CLK_TCK),
           "machine_busy_pct": 100.0 * (total - (m1[1] - m0[1])) / total if total > 0 else None,
           "loadavg_before": $load_before, "loadavg_after": $load_after,
           "command": ["shardlog-loadtest"] + """${args[*]}""".split()},
          open(sys.argv[1], "w"), indent=2)
PY
    grep -v '^$' "$run_dir/stdout.txt" | head -n 8 >&2 || true
    if [[ "$status" -ne 0 ]]; then
        log "$label: shardlog-loadtest exited with $status: $(tail -n 3 "$run_dir/live.log")"
        FAILED=1
    fi
    [[ "$broker_alive" -eq 1 ]] || { log "$label: THE BROKER DIED"; FAILED=1; }
    stop_broker "$label" || FAILED=1
}

# --- the runs ------------------------------------------------------------------
WORKLOADS=()
while IFS=$'\t' read -r _group name _rest; do WORKLOADS+=("$name"); done \
    < <("$LOADTEST_BIN" --suite "$SUITE_FILE" --suite-list)
[[ "${#WORKLOADS[@]}" -gt 0 ]] || die "no runs in $SUITE_FILE"

START="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "load average at the start: $LOAD_START"
for round in $(seq 1 "$ROUNDS"); do
    for name in "${WORKLOADS[@]}"; do
        for broker in "${BROKERS[@]}"; do
            run_one "$round" "$broker" "$name"
        done
    done
done
END="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
log "load average at the end: $LOAD_END"

# --- results -------------------------------------------------------------------
KAFKA_VERSION="$(basename "$(ls "$ROOT"/tmp/kafka-clients/kafka-server-lib/kafka_2.13-*.jar 2>/dev/null | head -n 1)" .jar)"
KAFKA_VERSION="${KAFKA_VERSION#kafka_2.13-}"
export BK_OUT="$OUT" BK_START="$START" BK_END="$END" BK_LOAD_START="$LOAD_START" \
    BK_LOAD_END="$LOAD_END" BK_DURATION="$DURATION" BK_WARMUP="$WARMUP" BK_ROUNDS="$ROUNDS" \
    BK_BROKER_WARMUP="$BROKER_WARMUP" BK_JAVA_OPTS="$KAFKA_JAVA_OPTS" \
    BK_SUITE="$SUITE_FILE" BK_FSTYPE="$DATA_FSTYPE" BK_DEVICE="$DATA_DEVICE" \
    BK_KAFKA_VERSION="${KAFKA_VERSION:-unknown}" BK_JAVA="$(java -version 2>&1 | head -n 1)" \
    BK_COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    BK_WORKLOADS="${WORKLOADS[*]}" BK_BROKERS="${BROKERS[*]}"
python3 - <<'PY'
import glob, json, os, platform, statistics

env = os.environ
out = env["BK_OUT"]
brokers, workloads = env["BK_BROKERS"].split(), env["BK_WORKLOADS"].split()
label = {"kafka-flush": "Kafka, flush every message", "kafka-default": "Kafka, default (no fsync)",
         "shardlog-kafka": "shardlog, Kafka port", "shardlog-native": "shardlog, native protocol"}

def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None

runs = []
for path in sorted(glob.glob(f"{out}/runs/*/*/runs/*/run.json")):
    r = load(path)
    s = load(os.path.join(os.path.dirname(path), "report", "summary.json"))
    r["summary"] = s
    if s and r["broker_cpu_ticks"] is not None and s["records_acknowledged"]:
        r["cpu_us_per_record"] = r["broker_cpu_ticks"] / r["clock_ticks_per_s"] * 1e6 / s["records_acknowledged"]
        r["broker_cpu_pct"] = 100.0 * r["broker_cpu_ticks"] / r["clock_ticks_per_s"] / r["wall_s"]
    runs.append(r)

def values(broker, workload, key):
    xs = []
    for r in runs:
        if r["broker"] != broker or r["workload"] != workload:
            continue
        s = r["summary"] or {}
        v = {"records_per_s": s.get("produce_records_per_s"),
             "ack_p50_ms": s["produce_ack_p50_us"] / 1000 if s else None,
             "ack_p99_ms": s["produce_ack_p99_us"] / 1000 if s else None,
             "consume_records_per_s": s.get("consume_records_per_s"),
             "cpu_us_per_record": r.get("cpu_us_per_record"),
             "broker_cpu_pct": r.get("broker_cpu_pct"),
             "machine_busy_pct": r.get("machine_busy_pct")}[key]
        if v is not None:
            xs.append(v)
    return xs

def med(broker, workload, key):
    xs = values(broker, workload, key)
    return statistics.median(xs) if xs else None

def fmt(v, d=0):
    return "-" if v is None else f"{v:,.{d}f}"

def cell(broker, workload, key, d=0):
    xs = values(broker, workload, key)
    if not xs:
        return "-"
    if len(xs) == 1:
        return fmt(xs[0], d)
    return f"{fmt(statistics.median(xs), d)} ({' · '.join(fmt(x, d) for x in xs)})"

def errors(broker, workload):
    parts = []
    for r in runs:
        if r["broker"] != broker or r["workload"] != workload:
            continue
        s = r["summary"]
        if s is None:
            parts.append(f"no summary (exit {r['exit_status']})")
            continue
        parts += [f"{k}: {v}" for k, v in (s.get("errors") or {}).items()]
        if s.get("records_failed"):
            parts.append(f"failed: {s['records_failed']}")
        if r["exit_status"]:
            parts.append(f"exit {r['exit_status']}")
        if not r["broker_alive_after"]:
            parts.append("BROKER DIED")
    return ", ".join(parts) or "0"

def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

lines = []
P = lines.append
rounds = int(env["BK_ROUNDS"])
P(f"# shardlog and Apache Kafka side by side (scripts/bench-kafka.sh), {env['BK_START']} .. {env['BK_END']}")
P("")
P(f"Machine: {os.cpu_count()} cores, kernel {platform.release()}; data on {env['BK_DEVICE']} ({env['BK_FSTYPE']}). "
  f"Load average (1, 5, 15 min) {env['BK_LOAD_START']} at the start, {env['BK_LOAD_END']} at the end.")
P("")
P(f"Brokers: Apache Kafka {env['BK_KAFKA_VERSION']} (single-node KRaft, {env['BK_JAVA']}, "
  f"`{env['BK_JAVA_OPTS']}`) with log.flush.interval.messages=1 and as shipped; "
  f"shardlog {env['BK_COMMIT']} with its defaults (durable acks fsync before answering). "
  "Kafka and shardlog's Kafka port are driven through librdkafka (shardlog-loadtest --protocol kafka), "
  "the native run through shardlog's client.")
P("")
P(f"Runs: a fresh broker per run, warmed by {env['BK_BROKER_WARMUP']} s of the same load (unmeasured), "
  f"then {env['BK_WARMUP']} s warmup + {env['BK_DURATION']} s measured; "
  f"{rounds} round(s) interleaved; workloads from {env['BK_SUITE']} (acks=all, 1 KiB records, "
  "4 producers, 4 consumers at the tail). "
  + ("Figures are medians, every round's value in brackets. " if rounds > 1 else "")
  + "CPU per record: the broker process's utime+stime while the harness ran, over the records "
  "acknowledged (warmup included; serving the consumers included); broker CPU % of one core over the same time; "
  "machine busy %: of all the cores, over the same time.")
for w in workloads:
    P("")
    P(f"## {w}")
    P("")
    P("| broker | produce records/s | ack p50 ms | ack p99 ms | consume records/s | broker CPU µs/record | broker CPU % | machine busy % | errors |")
    P("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for b in brokers:
        P(f"| {label[b]} | {cell(b, w, 'records_per_s')} | {cell(b, w, 'ack_p50_ms', 2)} | "
          f"{cell(b, w, 'ack_p99_ms', 2)} | {cell(b, w, 'consume_records_per_s')} | "
          f"{cell(b, w, 'cpu_us_per_record', 1)} | {cell(b, w, 'broker_cpu_pct')} | "
          f"{cell(b, w, 'machine_busy_pct')} | {errors(b, w)} |")

P("")
P("## Ratios: shardlog ÷ Kafka")
P("")
P("Records/s: higher is better; ack p99 and CPU per record: lower is better.")
P("")
P("| workload | shardlog via | records/s ÷ Kafka-flush | records/s ÷ Kafka-default | ack p99 ÷ Kafka-flush | ack p99 ÷ Kafka-default | CPU/record ÷ Kafka-flush | CPU/record ÷ Kafka-default |")
P("|---|---|---:|---:|---:|---:|---:|---:|")
for w in workloads:
    for s in ("shardlog-kafka", "shardlog-native"):
        if s not in brokers:
            continue
        cols = [fmt(ratio(med(s, w, k), med(kb, w, k)), 2)
                for k in ("records_per_s", "ack_p99_ms", "cpu_us_per_record")
                for kb in ("kafka-flush", "kafka-default")]
        P(f"| {w} | {label[s].split(', ')[1]} | " + " | ".join(cols) + " |")

P("")
P("## Against the goals (shardlog through its Kafka port, the same client as Kafka's runs)")
P("")
P("| workload | goal | shardlog | Kafka | ratio | verdict |")
P("|---|---|---:|---:|---:|---|")
for w in workloads:
    for kb, times in (("kafka-flush", 2), ("kafka-default", 1)):
        s_rate, k_rate = med("shardlog-kafka", w, "records_per_s"), med(kb, w, "records_per_s")
        s_p99, k_p99 = med("shardlog-kafka", w, "ack_p99_ms"), med(kb, w, "ack_p99_ms")
        r = ratio(s_rate, k_rate)
        if r is not None:
            P(f"| {w} | records/s ≥ {times} × {label[kb]} | {fmt(s_rate)} | {fmt(k_rate)} | {r:.2f} | "
              f"{'met' if r >= times else '**missed**'} |")
        r = ratio(s_p99, k_p99)
        if r is not None:
            P(f"| {w} | ack p99 ≤ 1/{times} of {label[kb]} | {fmt(s_p99, 2)} ms | {fmt(k_p99, 2)} ms | {r:.2f} | "
              f"{'met' if r <= 1 / times else '**missed**'} |")

text = "\n".join(lines) + "\n"
open(f"{out}/results.md", "w").write(text)
print(text)
json.dump({"runs": runs}, open(f"{out}/results.json", "w"), indent=2)
PY

log "results in $OUT/results.md"
[[ "$FAILED" -eq 0 ]] || { log "some runs failed or a broker misbehaved; see above"; exit 1; }

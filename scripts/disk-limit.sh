#!/usr/bin/env bash
# Measure this machine's disk limits with fio: the ceiling shardlog's storage
# benchmarks are held against (see DESIGN.md §3 "Storage" and §6 "Measured").
#
# Every job: O_DIRECT, one job, iodepth=1, sequential writes into a freshly
# fallocate'd file -- the same pattern as a segment append (DMA write into a
# preallocated segment, then one fdatasync per group commit).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

DIR="$REPO_ROOT/tmp/disk-limit"
RUNTIME=10
JSON_OUT=""
SIZE=""            # per-job file size; empty = derived from runtime and free space
ONLY=""            # comma-separated job names (sync-4k,sync-1m,...); empty = all

# 4k = a 1 KiB record commit padded to one O_DIRECT page.
SYNC_BLOCK_SIZES=(4k 16k 64k 256k 1m)
NOSYNC_BLOCK_SIZES=(64k 1m)

usage() {
    cat <<EOF
Usage: $(basename "$0") [--dir DIR] [--runtime SECONDS] [--json FILE] [--size MIB] [--only JOBS]

Measure the disk limits that shardlog's storage benchmarks are compared with.
Runs fio (O_DIRECT, iodepth=1, one job, sequential writes into a preallocated
file, io_uring if available else psync):
  - with fdatasync after every write: bs ${SYNC_BLOCK_SIZES[*]}
  - without fdatasync:                bs ${NOSYNC_BLOCK_SIZES[*]}
and prints a Markdown table (IOPS = commits/s for fdatasync rows, MB/s with
MB = 10^6 bytes, write completion latency and fdatasync latency p50/p99 in µs).
The JSON also has p99.9 of both, and for fdatasync rows "commit" p50, p99
and p99.9: the write's percentile plus the fdatasync's (fio reports the
two apart; this sum is what one write+fdatasync takes at that percentile,
exactly when the two rise together, slightly more than that otherwise).

Options:
  --dir DIR          where the test files go (default: <repo>/tmp/disk-limit,
                     created). Must be on the real disk: tmpfs is refused
                     because it does not support O_DIRECT.
  --runtime SECONDS  upper bound per job (default: 10). A job also ends when
                     it has written its whole file.
  --json FILE        also write a machine-readable summary to FILE.
  --size MIB         file size per job in MiB (default: runtime x 3072 MiB,
                     capped at 30% of the free space in DIR) -- big enough that
                     a job keeps writing into fresh preallocated blocks.
  --only JOBS        run only these jobs, comma-separated, e.g. sync-4k,sync-1m
                     (names: sync-BS and nosync-BS of the sizes above).
  -h, --help         show this help.

If fio is missing it is installed with apt-get when running as root.
Progress goes to stderr, the report to stdout.
EOF
}

log() { echo "disk-limit: $*" >&2; }
die() { log "error: $*"; exit 1; }

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --dir)     [[ $# -ge 2 ]] || die "--dir needs a value"; DIR="$2"; shift 2 ;;
            --runtime) [[ $# -ge 2 ]] || die "--runtime needs a value"; RUNTIME="$2"; shift 2 ;;
            --json)    [[ $# -ge 2 ]] || die "--json needs a value"; JSON_OUT="$2"; shift 2 ;;
            --size)    [[ $# -ge 2 ]] || die "--size needs a value"; SIZE="$2"; shift 2 ;;
            --only)    [[ $# -ge 2 ]] || die "--only needs a value"; ONLY="$2"; shift 2 ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
    done
    [[ "$RUNTIME" =~ ^[1-9][0-9]*$ ]] || die "--runtime must be a positive integer (seconds)"
    [[ -z "$SIZE" || "$SIZE" =~ ^[1-9][0-9]*$ ]] || die "--size must be a positive integer (MiB)"
    local job known bs
    for job in ${ONLY//,/ }; do
        known=0
        for bs in "${SYNC_BLOCK_SIZES[@]}"; do [[ "$job" == "sync-$bs" ]] && known=1; done
        for bs in "${NOSYNC_BLOCK_SIZES[@]}"; do [[ "$job" == "nosync-$bs" ]] && known=1; done
        [[ "$known" -eq 1 ]] || die "--only: no job $job (sync-{${SYNC_BLOCK_SIZES[*]}}, nosync-{${NOSYNC_BLOCK_SIZES[*]}})"
    done
    # Fail now rather than after a minute of measuring.
    [[ -z "$JSON_OUT" || -d "$(dirname "$JSON_OUT")" ]] || die "no such directory for --json: $(dirname "$JSON_OUT")"
}

ensure_fio() {
    command -v fio >/dev/null 2>&1 && return 0
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "fio not found; installing it with apt-get"
        # Progress to stderr so stdout stays a clean report.
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y fio; } >&2
        command -v fio >/dev/null 2>&1 || die "apt-get ran but fio is still missing"
    else
        log "fio is not installed. Install it, e.g.:"
        log "    sudo apt-get update && sudo apt-get install -y fio"
        exit 1
    fi
}

# O_DIRECT is the whole point (glommio DMA files); tmpfs/ramfs reject it (tmpfs
# before Linux 6.6), and a number measured in RAM is not a disk limit anyway.
prepare_dir() {
    if [[ ! -d "$DIR" ]]; then
        mkdir -p "$DIR"
        CREATED_DIR=1
    fi
    DIR="$(cd "$DIR" && pwd)"
    FSTYPE="$(df --output=fstype "$DIR" | tail -n 1 | tr -d ' ')"
    DEVICE="$(df --output=source "$DIR" | tail -n 1 | tr -d ' ')"
    case "$FSTYPE" in
        tmpfs|ramfs|devtmpfs)
            die "$DIR is on $FSTYPE: that is RAM, not a disk, and O_DIRECT is unsupported (or meaningless) there; pass --dir on the real disk, e.g. under the repo" ;;
    esac
}

# Enough for RUNTIME seconds at ~3 GiB/s, so even the no-sync 1m job (~2.2 GB/s
# on a virtio disk) keeps writing fresh blocks instead of finishing early; but
# never more than 30% of the free space (fallocate is instant, the space is
# only held for one job, yet others may be building on this disk).
pick_size() {
    [[ -n "$SIZE" ]] && return 0
    local free_mib want cap
    free_mib=$(( $(df -k --output=avail "$DIR" | tail -n 1 | tr -d ' ') / 1024 ))
    want=$(( RUNTIME * 3072 ))
    cap=$(( free_mib * 3 / 10 ))
    SIZE=$(( want < cap ? want : cap ))
    (( SIZE >= 64 )) || die "less than ~220 MiB free in $DIR"
}

# io_uring can be compiled out of fio, disabled by sysctl, or blocked by a
# seccomp profile, so try a tiny real job rather than trusting `--enghelp`.
pick_ioengine() {
    local probe="$DIR/fio-probe.dat"
    if fio --name=probe --filename="$probe" --size=1M --bs=4k --rw=write \
           --direct=1 --ioengine=io_uring --iodepth=1 \
           --output-format=json --output=/dev/null >/dev/null 2>&1; then
        IOENGINE=io_uring
    else
        IOENGINE=psync
    fi
    rm -f "$probe"
}

cleanup() {
    rm -f "$DIR"/fio-*.dat 2>/dev/null || true
    if [[ -n "${WORK:-}" ]]; then rm -rf "$WORK"; fi
    if [[ "${CREATED_DIR:-0}" -eq 1 ]]; then rmdir "$DIR" 2>/dev/null || true; fi
}

# run_job NAME BS SYNC(0|1): one fio job, JSON result into $WORK/NAME.json.
# The file is fresh per job: fio fallocates it (unwritten extents, like a
# preallocated segment) and it is deleted right after to give the space back.
# Fresh matters: on ext4 the first write into an unwritten extent makes
# fdatasync commit the journal (extent conversion), which costs about as much
# again as overwriting blocks that already hold data.
run_job() {
    local name="$1" bs="$2" sync="$3"
    local file="$DIR/fio-$name.dat"
    log "job $name: bs=$bs fdatasync=$sync (up to ${RUNTIME}s)"
    # timeout: a hard bound in case fio hangs on a sick disk. It runs in the
    # background so that a signal to this script is handled at once (bash
    # defers traps while a foreground child runs) and passed on by on_signal.
    timeout --kill-after=10 $(( RUNTIME + 60 )) \
        fio --name="$name" --filename="$file" --size="${SIZE}M" \
            --rw=write --bs="$bs" --direct=1 --ioengine="$IOENGINE" \
            --iodepth=1 --numjobs=1 --fdatasync="$sync" \
            --fallocate=native --runtime="$RUNTIME" \
            --percentile_list=50:99:99.9 \
            --output-format=json --output="$WORK/$name.json" >&2 &
    FIO_PID=$!
    wait "$FIO_PID"
    FIO_PID=""
    rm -f "$file"
}

# Stop the running fio (timeout forwards TERM to it) before the EXIT trap
# deletes its file.
on_signal() {
    if [[ -n "${FIO_PID:-}" ]]; then
        kill -TERM "$FIO_PID" 2>/dev/null || true
        wait "$FIO_PID" 2>/dev/null || true
    fi
    exit 130
}

# A job runs unless --only leaves it out.
wanted() {
    [[ -z "$ONLY" || ",$ONLY," == *",$1,"* ]]
}

run_all_jobs() {
    local bs
    JOBS=()
    for bs in "${SYNC_BLOCK_SIZES[@]}"; do
        wanted "sync-$bs" || continue
        run_job "sync-$bs" "$bs" 1
        JOBS+=("sync-$bs")
    done
    for bs in "${NOSYNC_BLOCK_SIZES[@]}"; do
        wanted "nosync-$bs" || continue
        run_job "nosync-$bs" "$bs" 0
        JOBS+=("nosync-$bs")
    done
}

# Facts about the machine and the run, handed to the report via the environment.
export_machine_facts() {
    export DL_NPROC DL_CPU DL_KERNEL DL_FIO_VERSION DL_DIR DL_DEVICE DL_FSTYPE \
           DL_IOENGINE DL_RUNTIME DL_SIZE_MIB
    DL_NPROC="$(nproc)"
    DL_CPU="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    DL_KERNEL="$(uname -r)"
    DL_FIO_VERSION="$(fio --version)"
    DL_DIR="$DIR" DL_DEVICE="$DEVICE" DL_FSTYPE="$FSTYPE"
    DL_IOENGINE="$IOENGINE" DL_RUNTIME="$RUNTIME" DL_SIZE_MIB="$SIZE"
}

# Turn the fio JSON files into the Markdown table (stdout) and, optionally,
# the JSON summary. python3 instead of jq: it is always on these machines.
report() {
    export_machine_facts
    python3 - "$WORK" "$JSON_OUT" "${JOBS[@]}" <<'PY'
import json, os, sys

work, json_out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
env = os.environ
machine = {
    "nproc": int(env["DL_NPROC"]),
    "cpu": env["DL_CPU"] or "unknown CPU",
    "kernel": env["DL_KERNEL"],
    "dir": env["DL_DIR"],
    "device": env["DL_DEVICE"],
    "fstype": env["DL_FSTYPE"],
}
run = {
    "fio_version": env["DL_FIO_VERSION"],
    "ioengine": env["DL_IOENGINE"],
    "direct": 1,
    "iodepth": 1,
    "runtime_limit_s": int(env["DL_RUNTIME"]),
    "file_size_mib": int(env["DL_SIZE_MIB"]),
}

def load(name):
    text = open(f"{work}/{name}.json").read()
    # fio may print warnings before the JSON document.
    return json.loads(text[text.index("{"):])

def pct_us(lat, p):
    v = (lat or {}).get("percentile", {}).get(p)
    return None if v is None else v / 1000.0

def plus(a, b):
    return None if a is None or b is None else a + b

def row(name):
    doc = load(name)
    job = doc["jobs"][0]
    w = job["write"]
    sync = job.get("sync", {})
    sync_lat = sync.get("lat_ns")
    fsync = name.startswith("sync-")
    iops = w["iops"]
    r = {
        "job": name,
        "bs": name.split("-", 1)[1],
        "fdatasync": fsync,
        "runtime_s": job["job_runtime"] / 1000.0,
        "error": job.get("error", 0),
        "iops": iops,
        "mb_s": w["bw_bytes"] / 1e6,
        "write_p50_us": pct_us(w.get("clat_ns"), "50.000000"),
        "write_p99_us": pct_us(w.get("clat_ns"), "99.000000"),
        "sync_p50_us": pct_us(sync_lat, "50.000000") if fsync else None,
        "sync_p99_us": pct_us(sync_lat, "99.000000") if fsync else None,
        "write_p999_us": pct_us(w.get("clat_ns"), "99.900000"),
        "sync_p999_us": pct_us(sync_lat, "99.900000") if fsync else None,
        # write + fdatasync, averaged: the mean time one commit takes.
        "commit_mean_us": (1e6 / iops) if fsync and iops > 0 else None,
    }
    # One write+fdatasync at a percentile: the sum of the two parts' (fio
    # gives no distribution of the pair).
    for p in ("p50", "p99", "p999"):
        r[f"commit_{p}_us"] = plus(r[f"write_{p}_us"], r[f"sync_{p}_us"]) if fsync else None
    return r

def fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"

rows = [row(n) for n in names]

m = machine
print(f"Machine: {m['nproc']} cores, {m['cpu']}, kernel {m['kernel']}, "
      f"{m['dir']} on {m['device']} ({m['fstype']}).")
print(f"fio: {run['fio_version']}, ioengine={run['ioengine']}, direct=1, iodepth=1, "
      f"up to {run['runtime_limit_s']} s and {run['file_size_mib']} MiB per job.")
print()
print("| bs | fdatasync | IOPS | MB/s | write p50 µs | write p99 µs | sync p50 µs | sync p99 µs | commit mean µs (1e6/IOPS) | s |")
print("|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['bs']} | {'yes' if r['fdatasync'] else 'no'} | {fmt(r['iops'])} | {fmt(r['mb_s'], 1)} "
          f"| {fmt(r['write_p50_us'])} | {fmt(r['write_p99_us'])} "
          f"| {fmt(r['sync_p50_us'])} | {fmt(r['sync_p99_us'])} | {fmt(r['commit_mean_us'], 1)} "
          f"| {fmt(r['runtime_s'], 1)} |")
bad = [r["job"] for r in rows if r["error"]]
if bad:
    print(f"\nfio reported errors in: {', '.join(bad)}")

if json_out:
    with open(json_out, "w") as f:
        json.dump({"machine": machine, "run": run, "jobs": rows}, f, indent=2)
        f.write("\n")
PY
}

main() {
    parse_args "$@"
    CREATED_DIR=0 WORK="" FIO_PID=""
    trap cleanup EXIT
    trap on_signal INT TERM
    prepare_dir                # before installing anything: fail fast on tmpfs
    ensure_fio
    WORK="$(mktemp -d)"
    pick_size
    pick_ioengine
    log "dir=$DIR ($DEVICE, $FSTYPE) ioengine=$IOENGINE size=${SIZE}MiB runtime=${RUNTIME}s"
    run_all_jobs
    report
}

main "$@"

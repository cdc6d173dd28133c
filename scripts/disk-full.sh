#!/usr/bin/env bash
# Disk full, end to end (issue #6): the release broker on a small
# loop-mounted ext4 file system, produced to until producers get the typed
# StorageFull error; nothing acknowledged may be lost or corrupt, and once a
# topic delete frees space produce works again without a restart.
#
# Needs root (mkfs, losetup, mount). Everything it creates lives under
# <repo>/target/disk-full and is removed on every exit path.
# (scripts/disk-limit.sh is the fio measurement of the disk's speed; this
# script shares its conventions -- log/die, bounded steps -- not its job.)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$REPO_ROOT/target/disk-full"
BIN="$REPO_ROOT/target/release/shardlog"

FS_MIB=96                    # the ext4 file system
RESERVE_BYTES=$((8 << 20))   # --min-free-bytes
SEGMENT_BYTES=$((1 << 20))   # small segments: many rolls
PREALLOCATE_BYTES=$((256 << 10))
CHUNK_LINES=1000             # records per `shardlog produce` call
LINE_BYTES=1000              # bytes per record value
WAIT_S=30                    # bound on every wait
BUILD=1

usage() {
    cat <<EOF
Usage: $(basename "$0") [--fs-mib N] [--reserve-bytes B] [--no-build]

As root: make a ${FS_MIB} MiB ext4 file system in a file under target/disk-full,
loop-mount it, run the release broker on it with --min-free-bytes
${RESERVE_BYTES}, --segment-bytes ${SEGMENT_BYTES} and one core, and:
  1. produce ${CHUNK_LINES}-record chunks, alternately to topics 'ballast' and
     'events', until a produce fails, and require that failure to be
     StorageFull with free space left (the reserve, not ENOSPC);
  2. require a produce to the other topic to fail with StorageFull too;
  3. read both topics back: every acknowledged record present exactly once;
  4. delete 'ballast' and require produce to 'events' to succeed again,
     without restarting the broker; read 'events' back;
  5. stop the broker (SIGTERM) and run 'shardlog check' on the data dir.
Exits non-zero on any failure; cleans up (broker, mount, loop device,
files) on every exit path.

Options:
  --fs-mib N         size of the file system in MiB (default ${FS_MIB})
  --reserve-bytes B  the broker's --min-free-bytes (default ${RESERVE_BYTES})
  --no-build         use target/release/shardlog as it is
EOF
}

log() { echo "disk-full: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --fs-mib) FS_MIB="$2"; shift 2 ;;
        --reserve-bytes) RESERVE_BYTES="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$FS_MIB" =~ ^[0-9]+$ && "$FS_MIB" -ge 32 ]] || die "--fs-mib must be at least 32"
[[ "$RESERVE_BYTES" =~ ^[0-9]+$ ]] || die "--reserve-bytes must be a number"
[[ "$(id -u)" -eq 0 ]] || die "run as root (mkfs.ext4, losetup, mount)"
for tool in mkfs.ext4 losetup mount umount timeout awk; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

IMAGE="$WORK/fs.img"
MNT="$WORK/mnt"
DATA="$MNT/data"
LOOP=""
BROKER_PID=""
BROKER_LOG="$WORK/broker.log"

cleanup() {
    local status=$?
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    if mountpoint -q "$MNT" 2>/dev/null; then
        umount "$MNT" || umount -l "$MNT" || log "could not unmount $MNT"
    fi
    if [[ -n "$LOOP" ]]; then
        losetup -d "$LOOP" || log "could not detach $LOOP"
    fi
    rm -rf "$WORK"
    if [[ $status -eq 0 ]]; then log "PASS"; else log "exit status $status"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ "$BUILD" -eq 1 ]]; then
    log "building the release broker"
    (cd "$REPO_ROOT" && cargo build --release --bin shardlog >&2)
fi
[[ -x "$BIN" ]] || die "$BIN missing (build it, or drop --no-build)"

# --- the file system ---------------------------------------------------------
rm -rf "$WORK"
mkdir -p "$MNT"
truncate -s "${FS_MIB}M" "$IMAGE"
# -m 0: no blocks reserved for root, so "available" is all free space.
mkfs.ext4 -q -F -m 0 "$IMAGE"
LOOP="$(losetup --find --show "$IMAGE")"
mount -o noatime "$LOOP" "$MNT"
mkdir -p "$DATA"
avail_bytes() { df -B1 --output=avail "$MNT" | tail -n 1 | tr -d ' '; }
log "ext4 of ${FS_MIB} MiB on $LOOP at $MNT, $(avail_bytes) bytes available"

# --- the broker ----------------------------------------------------------------
READY="$WORK/ready"
"$BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 --cores 1 \
    --segment-bytes "$SEGMENT_BYTES" --preallocate-bytes "$PREALLOCATE_BYTES" \
    --min-free-bytes "$RESERVE_BYTES" --io-memory-bytes $((1 << 20)) \
    --ready-file "$READY" >"$BROKER_LOG" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 $((WAIT_S * 10))); do
    [[ -s "$READY" ]] && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$BROKER_LOG" >&2; die "the broker exited at start"; }
    sleep 0.1
done
[[ -s "$READY" ]] || die "the broker did not get ready within ${WAIT_S}s"
ADDR="$(cat "$READY")"
log "broker pid $BROKER_PID at $ADDR, reserve $RESERVE_BYTES bytes"

cli() { timeout "$WAIT_S" "$BIN" "$@" --broker "$ADDR"; }

cli topic create ballast --partitions 1 >/dev/null
cli topic create events --partitions 1 >/dev/null

# The records of chunk C of TOPIC: "TOPIC-C-N-" then padding to LINE_BYTES.
chunk() {
    awk -v t="$1" -v c="$2" -v n="$CHUNK_LINES" -v len="$LINE_BYTES" 'BEGIN {
        pad = sprintf("%*s", len, ""); gsub(/ /, "x", pad)
        for (i = 0; i < n; i++) {
            line = sprintf("%s-%06d-%06d-", t, c, i)
            print line substr(pad, 1, len - length(line))
        }
    }'
}

# Produces chunk C to TOPIC; appends the records acknowledged to
# $WORK/TOPIC.acked. Returns the produce command's status; its output is
# left in $WORK/out and $WORK/err.
produce_chunk() {
    local topic="$1" c="$2" status=0
    chunk "$topic" "$c" | cli produce "$topic" --partition 0 >"$WORK/out" 2>"$WORK/err" || status=$?
    local acked
    acked="$(awk '/^acknowledged/ { print $2 }' "$WORK/out")"
    [[ -n "$acked" ]] || { cat "$WORK/out" "$WORK/err" >&2; die "produce to $topic printed no summary"; }
    echo "$c $acked" >>"$WORK/$topic.acked"
    return "$status"
}

# --- 1. fill -----------------------------------------------------------------------
# Chunks alternate between the two topics, so that 'events' holds data from
# before the disk filled up to the end (and through `shardlog check`).
topic_of() { if (( $1 % 2 == 0 )); then echo ballast; else echo events; fi; }
MAX_CHUNKS=$(( FS_MIB * 1048576 / (CHUNK_LINES * LINE_BYTES) + 4 ))
full_at=""
for c in $(seq 0 "$MAX_CHUNKS"); do
    if ! produce_chunk "$(topic_of "$c")" "$c"; then
        full_at="$c"
        break
    fi
done
[[ -n "$full_at" ]] || die "$MAX_CHUNKS chunks fitted: the disk never filled"
FULL_TOPIC="$(topic_of "$full_at")"
OTHER_TOPIC="$(topic_of $((full_at + 1)))"
grep -q "storage full" "$WORK/err" || { cat "$WORK/err" >&2; die "the failing produce did not fail with StorageFull"; }
log "$FULL_TOPIC chunk $full_at refused: $(grep -m1 'failed:' "$WORK/err")"
log "  $((full_at + 1)) chunks tried; $(tail -n1 "$WORK/$FULL_TOPIC.acked" | cut -d' ' -f2) of $CHUNK_LINES records of the last one acknowledged"
AVAIL_FULL="$(avail_bytes)"
log "file system available at refusal: $AVAIL_FULL bytes (reserve $RESERVE_BYTES)"
(( AVAIL_FULL > 0 )) || die "the file system filled up completely: the reserve did not hold"
grep -q "min_free_bytes" "$BROKER_LOG" || die "the broker did not log the reserve refusal"
log "broker: $(grep -m1 'min_free_bytes' "$BROKER_LOG" | sed 's/\x1b\[[0-9;]*m//g')"

# --- 2. the other topic is refused too, typed ------------------------------------------
if produce_chunk "$OTHER_TOPIC" $((full_at + 1)); then die "$OTHER_TOPIC accepted a chunk on a full disk"; fi
grep -q "storage full" "$WORK/err" || { cat "$WORK/err" >&2; die "$OTHER_TOPIC failed, but not with StorageFull"; }
log "$OTHER_TOPIC refused too: $(grep -m1 'failed:' "$WORK/err")"
grep -q "refusing appends\|partition log failed" "$BROKER_LOG" && die "a partition went out of service"

# --- 3. read back ----------------------------------------------------------------
# Every record of TOPIC: present exactly once, only records we sent, and as
# many as acknowledged (a refused append writes nothing).
verify_topic() {
    local topic="$1"
    cli consume "$topic" --partition 0 >"$WORK/$topic.read"
    local acked found dup
    acked="$(awk '{ s += $2 } END { print s + 0 }' "$WORK/$topic.acked")"
    found="$(grep -c . "$WORK/$topic.read" || true)"
    dup="$(cut -d- -f1-3 "$WORK/$topic.read" | sort | uniq -d | wc -l)"
    (( dup == 0 )) || die "$topic: $dup duplicated records"
    grep -qv "^$topic-" "$WORK/$topic.read" && die "$topic: a record we never sent"
    # Chunks acknowledged whole must be there whole.
    while read -r c n; do
        if (( n == CHUNK_LINES )); then
            local have
            have="$(grep -c "^$topic-$(printf %06d "$c")-" "$WORK/$topic.read" || true)"
            (( have == CHUNK_LINES )) || die "$topic chunk $c: acknowledged $n, found $have"
        fi
    done <"$WORK/$topic.acked"
    (( found == acked )) || die "$topic: acknowledged $acked records, read back $found"
    log "$topic: acknowledged $acked, read back $found, no duplicates"
}
verify_topic ballast
verify_topic events

# --- 4. free space: delete the ballast topic ---------------------------------------
cli topic delete ballast >/dev/null
log "deleted ballast: $(avail_bytes) bytes available"
resumed=0
for attempt in $(seq 1 "$WAIT_S"); do
    if produce_chunk events $((MAX_CHUNKS + 1 + attempt)); then resumed=1; break; fi
    grep -q "storage full" "$WORK/err" || { cat "$WORK/err" >&2; die "events failed, not with StorageFull"; }
    sleep 1
done
(( resumed == 1 )) || die "produce did not resume within ${WAIT_S}s of freeing space"
produce_chunk events $((MAX_CHUNKS + 2 + WAIT_S)) || die "a second chunk after freeing space failed"
log "produce to events works again without a restart (attempt $attempt)"
verify_topic events

# --- 5. clean stop and check --------------------------------------------------------
kill -TERM "$BROKER_PID"
for _ in $(seq 1 $((WAIT_S * 10))); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$BROKER_PID" 2>/dev/null && die "the broker did not stop within ${WAIT_S}s of SIGTERM"
broker_status=0
wait "$BROKER_PID" || broker_status=$?
BROKER_PID=""
(( broker_status == 0 )) || die "the broker exited with status $broker_status"
timeout "$WAIT_S" "$BIN" check --data-dir "$DATA" >"$WORK/check" 2>&1 || { cat "$WORK/check" >&2; die "shardlog check failed"; }
log "shardlog check: $(tail -n1 "$WORK/check")"

echo "disk-full summary: fs ${FS_MIB} MiB, reserve $RESERVE_BYTES B; chunk $full_at ($FULL_TOPIC) refused with StorageFull with $AVAIL_FULL B still available, $OTHER_TOPIC refused too; every acknowledged record read back once; produce to events resumed after deleting ballast, without a restart; shardlog check clean"

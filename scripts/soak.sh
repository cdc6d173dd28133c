#!/usr/bin/env bash
# The soak: shardlog's broker as a child process under the verifying load,
# killed (SIGKILL) and/or stopped (SIGTERM) at uniformly random moments
# within every interval and restarted, while the producers retry through
# the outages; at the end the producers drain, every partition is read back
# and a Jepsen-style checker reports lost, duplicated and misplaced records.
#
# This script builds the release binaries (shardlog, shardlog-soak) and runs
# shardlog-soak with every argument given; shardlog-soak --help lists them
# all. The data dir defaults to <repo>/tmp/soak-<pid> (the real disk: the
# broker needs O_DIRECT, which tmpfs lacks) and is removed at the end.
#
# Exit code: 0 passed; 1 an anomaly (loss, inconsistency, crash, a restart
# that never accepted a produce); 2 the soak could not run; 130 interrupted.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<EOF
Usage: $(basename "$0") [--duration D] [--kill-every S] [--sigterm-every S]
                [--rate R] [--partitions P] [--report DIR] [shardlog-soak flags]

Build shardlog in release mode and soak it: kill and restart the broker at
random moments under a verifying load, then check that nothing acknowledged
was lost.

Options (durations as 250ms, 20s, 30m, 1h; a bare number is seconds):
  --duration D        how long the load runs (default: 60s)
  --kill-every S      SIGKILL once at a random moment in every S
  --sigterm-every S   SIGTERM once at a random moment in every S
  --rate R            records per second over all producers (default: 2000)
  --partitions P      partitions of the soak's topic (default: 8)
  --report DIR        write soak.json, soak.md and broker.log into DIR
  --data-dir DIR      the broker's data dir (default: <repo>/tmp/soak-<pid>)
  --broker-bin PATH   the shardlog binary (default: target/release/shardlog)
  --seed N            the seed of the fault moments (printed in the report)
  -h, --help          this help; shardlog-soak --help lists every flag

Examples:
  $(basename "$0") --duration 2m --kill-every 5s
  $(basename "$0") --duration 30m --kill-every 20s --sigterm-every 3m --report target/soak-30m
EOF
}

has_data_dir=0
for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
        --data-dir|--data-dir=*) has_data_dir=1 ;;
    esac
done

cd "$ROOT"
cargo build --release -p shardlog -p loadtest --bin shardlog --bin shardlog-soak >&2
extra=()
if [ "$has_data_dir" = 0 ]; then
    mkdir -p "$ROOT/tmp"
    extra+=(--data-dir "$ROOT/tmp/soak-$$")
fi
# exec: Ctrl-C reaches shardlog-soak itself, which stops the broker it
# started and removes its data dir.
exec "$ROOT/target/release/shardlog-soak" "${extra[@]}" "$@"

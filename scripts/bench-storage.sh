#!/usr/bin/env bash
# Runs the storage benchmarks and the disk baseline back to back, so the
# figures in docs/BENCHMARKS.md come from one run on one machine:
#   1. scripts/disk-limit.sh  (fio: the disk's O_DIRECT limits)
#   2. cargo bench --bench append  (PartitionLog vs DmaFile and pwrite baselines)
#   3. cargo bench --bench codec --bench index  (codec GB/s, index lookups/s)
# Usage: scripts/bench-storage.sh [OUT_DIR]   (default: tmp/bench-storage)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/tmp/bench-storage}"
mkdir -p "$out"
cd "$root"

echo "building benches first, so no build overlaps a measurement" >&2
cargo bench --no-run --bench append --bench codec --bench index >&2

echo "1/3 fio disk limits" >&2
bash scripts/disk-limit.sh --runtime "${FIO_RUNTIME:-5}" > "$out/disk-limit.md"
echo "2/3 append benchmark" >&2
cargo bench --bench append 2>/dev/null | grep '^|' > "$out/append.md"
echo "3/3 codec benchmark" >&2
cargo bench --bench codec --bench index 2>/dev/null | grep -E '^[a-z].*|time:|thrpt:' > "$out/codec.txt"

cat "$out/disk-limit.md" "$out/append.md" "$out/codec.txt"
echo "results in $out" >&2

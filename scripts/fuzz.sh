#!/usr/bin/env bash
# Runs the cargo-fuzz targets of scripts/fuzz for a time budget each and
# fails on the first crash, printing where the crashing input was saved.
# See scripts/fuzz/README.md for what each target checks.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/fuzz.sh [--seconds-per-target N] [TARGET...]

Fuzzes each TARGET (default: all) for N seconds (default 60) with libFuzzer,
on the nightly toolchain, starting from the corpus in
scripts/fuzz/corpus/TARGET (seeded from valid encodings when empty).
Installs cargo-fuzz if it is missing. Exits non-zero if a target crashed;
the crashing input is kept under scripts/fuzz/artifacts/TARGET/.

Targets:
  requests        frames and every request, as the broker decodes them
  responses       every response, as the client decodes them
  record_batches  record batches: validate, record iteration, batch runs

Options:
  --seconds-per-target N  time budget of each target, in seconds
  -h, --help              this help
EOF
}

all_targets=(requests responses record_batches)
seconds=60
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds-per-target)
            [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || {
                echo "fuzz.sh: --seconds-per-target needs a positive number of seconds" >&2
                exit 2
            }
            seconds="$2"
            shift 2
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*)
            echo "fuzz.sh: unknown option $1" >&2
            usage >&2
            exit 2
            ;;
        *)
            if [[ ! " ${all_targets[*]} " == *" $1 "* ]]; then
                echo "fuzz.sh: unknown target $1 (targets: ${all_targets[*]})" >&2
                exit 2
            fi
            targets+=("$1")
            shift
            ;;
    esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_dir="$root/scripts/fuzz"
cd "$root"

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# Seed each empty corpus with valid encodings (tests/decoders.rs writes them).
for target in "${targets[@]}"; do
    if [[ -z "$(ls -A "$fuzz_dir/corpus/$target" 2>/dev/null)" ]]; then
        echo "fuzz.sh: seeding the corpus from valid encodings"
        SHARDLOG_FUZZ_CORPUS_DIR="$fuzz_dir/corpus" \
            cargo test --quiet --test decoders write_fuzz_seed_corpus -- --ignored
        break
    fi
done

failed=()
for target in "${targets[@]}"; do
    artifacts="$fuzz_dir/artifacts/$target"
    mkdir -p "$artifacts"
    echo "fuzz.sh: $target for ${seconds}s"
    # A mark to tell this run's crash files from older ones.
    mark="$(mktemp)"
    if ! cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" "$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1; then
        failed+=("$target")
        echo "fuzz.sh: $target CRASHED; the input that crashed it:" >&2
        find "$artifacts" -type f -newer "$mark" -printf '  %p\n' >&2
        echo "  reproduce: cargo +nightly fuzz run --fuzz-dir scripts/fuzz $target <that file>" >&2
    fi
    rm -f "$mark"
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: crashed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: no crash in ${targets[*]} (${seconds}s each)"

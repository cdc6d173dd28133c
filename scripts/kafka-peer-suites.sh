#!/usr/bin/env bash
# Peer test suites against shardlog: franz-go's own pkg/kgo integration
# tests (the Go module from the Go module proxy, at a pinned version, built
# once under tmp/peer-suites), run black-box against a broker through
# KGO_SEEDS, one test per process so a hang or a panic costs one test.
# tests/kafka/peer-allowlist-franz-go.txt says which tests must pass and,
# for each other test that talks to a broker, why it does not. Exits 1 when
# an allow-listed test fails (or skips itself). Owns tmp/peer-suites.
# librdkafka's tests/ are not run: see docs/KAFKA.md, "Peer suites".
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FRANZ_GO_VERSION=v1.22.3
ALLOWLIST="$REPO_ROOT/tests/kafka/peer-allowlist-franz-go.txt"
WORK="$REPO_ROOT/tmp/peer-suites"
SHARDLOG_BIN="${SHARDLOG_BIN:-$REPO_ROOT/target/debug/shardlog}"
AGAINST=shardlog
RUN_ALL=0
ONLY=""
TEST_TIMEOUT_S=240
READY_WAIT_S=30
# What franz-go's test helpers read (pkg/kgo/helpers_test.go): one replica,
# and fewer records than the 500000 its ETL tests default to, for 2 cores.
KGO_TEST_RF=1
KGO_TEST_RECORDS="${KGO_TEST_RECORDS:-10000}"

usage() {
    cat <<EOF
Usage: $(basename "$0") [--against shardlog|kafka] [--all] [--only REGEX] [--timeout S]

Runs franz-go $FRANZ_GO_VERSION pkg/kgo tests that talk to a broker, each in
its own process (timeout --timeout, default ${TEST_TIMEOUT_S}s), and compares
the outcome with $(realpath --relative-to="$REPO_ROOT" "$ALLOWLIST"):
  pass NAME            must pass: a failure or a skip fails this script
  skip NAME  REASON    skips itself (needs an API shardlog does not serve)
  fail NAME  REASON    does not pass against shardlog, and why; run only
                       with --all, which reports any that now pass
--against shardlog (default): starts SHARDLOG_BIN (default
  target/debug/shardlog, not built here) with 2 cores, data under
  tmp/peer-suites; KAFKA_BOOTSTRAP=HOST:PORT uses a running broker instead.
--against kafka: Apache Kafka 4.x from scripts/kafka-reference.sh (shows
  which tests the suite itself passes against Kafka on one node).
--only REGEX: only the listed tests whose name matches.
Per-test output: tmp/peer-suites/logs/NAME.log. KGO_TEST_RECORDS (default
$KGO_TEST_RECORDS) sizes the ETL tests.

Examples:
  SHARDLOG_BIN=tmp/bin/shardlog scripts/kafka-peer-suites.sh
  scripts/kafka-peer-suites.sh --all
  scripts/kafka-peer-suites.sh --only 'GroupETL|Produce'
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --against) AGAINST="$2"; shift 2 ;;
        --all) RUN_ALL=1; shift ;;
        --only) ONLY="$2"; shift 2 ;;
        --timeout) TEST_TIMEOUT_S="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"

# --- the suite: franz-go's module, its pkg/kgo test binary -------------------

build_franz_go() {
    local binary="$WORK/kgo-$FRANZ_GO_VERSION.test"
    if [[ -x "$binary" ]]; then echo "$binary"; return; fi
    local dir src
    dir="$(go mod download -json "github.com/twmb/franz-go@$FRANZ_GO_VERSION" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    # the module cache is read-only; build from a writable copy
    src="$WORK/franz-go-$FRANZ_GO_VERSION"
    rm -rf "$src"
    cp -r "$dir" "$src"
    chmod -R u+w "$src"
    echo "kafka-peer-suites: building franz-go $FRANZ_GO_VERSION pkg/kgo tests" >&2
    (cd "$src" && go test -c -o "$binary.partial" ./pkg/kgo >&2)
    mv "$binary.partial" "$binary"
    echo "$binary"
}

# --- the broker -------------------------------------------------------------

BROKER_PID=""
REF_DIR="$WORK/kafka-ref"

start_broker() {
    if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
        BOOTSTRAP="$KAFKA_BOOTSTRAP"
        return
    fi
    case "$AGAINST" in
        shardlog)
            [[ -x "$SHARDLOG_BIN" ]] \
                || { echo "no broker binary at $SHARDLOG_BIN (set SHARDLOG_BIN or cargo build)" >&2; exit 2; }
            rm -rf "$WORK/broker"; mkdir -p "$WORK/broker"
            "$SHARDLOG_BIN" serve --data-dir "$WORK/broker/data" --listen 127.0.0.1:0 \
                --kafka-listen 127.0.0.1:0 --cores 2 --ready-file "$WORK/broker/ready" \
                > "$WORK/broker/broker.log" 2>&1 < /dev/null &
            BROKER_PID=$!
            local deadline=$((SECONDS + READY_WAIT_S))
            until grep -q '^kafka ' "$WORK/broker/ready" 2>/dev/null; do
                kill -0 "$BROKER_PID" 2>/dev/null \
                    || { echo "shardlog exited:" >&2; tail -20 "$WORK/broker/broker.log" >&2; exit 1; }
                (( SECONDS < deadline )) || { echo "shardlog not ready after ${READY_WAIT_S}s" >&2; exit 1; }
                sleep 0.05
            done
            BOOTSTRAP="$(sed -n 's/^kafka //p' "$WORK/broker/ready")"
            ;;
        kafka)
            "$REPO_ROOT/scripts/kafka-reference.sh" stop "$REF_DIR"
            BOOTSTRAP="$("$REPO_ROOT/scripts/kafka-reference.sh" start "$REF_DIR")"
            ;;
        *) echo "--against: shardlog or kafka, not $AGAINST" >&2; exit 2 ;;
    esac
}

stop_broker() {
    if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill -TERM "$BROKER_PID"
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    if [[ "$AGAINST" == kafka && -z "${KAFKA_BOOTSTRAP:-}" ]]; then
        "$REPO_ROOT/scripts/kafka-reference.sh" stop "$REF_DIR" --keep-logs
    fi
}
trap stop_broker EXIT

# --- the run ----------------------------------------------------------------

started=$SECONDS
BINARY="$(build_franz_go)"
echo "kafka-peer-suites: franz-go test binary ready in $((SECONDS - started))s"
start_broker
echo "kafka-peer-suites: franz-go $FRANZ_GO_VERSION pkg/kgo against $AGAINST at $BOOTSTRAP"

rm -rf "$WORK/logs"; mkdir -p "$WORK/logs"
declare -A expected reason
order=()
while read -r verdict name rest; do
    [[ -z "$verdict" || "$verdict" == \#* ]] && continue
    case "$verdict" in pass|skip|fail) ;; *) echo "$ALLOWLIST: bad line: $verdict $name" >&2; exit 2 ;; esac
    expected[$name]=$verdict
    reason[$name]="$rest"
    order+=("$name")
done < "$ALLOWLIST"

passed=0; failed=0; skipped=0; not_run=0
regressions=(); surprises=()
src="$WORK/franz-go-$FRANZ_GO_VERSION/pkg/kgo"
[[ -d "$src" ]] || src="$WORK"
for name in "${order[@]}"; do
    if [[ -n "$ONLY" && ! "$name" =~ $ONLY ]] || [[ ${expected[$name]} == fail && $RUN_ALL -eq 0 ]]; then
        not_run=$((not_run + 1))
        continue
    fi
    t0=$SECONDS
    log="$WORK/logs/$name.log"
    set +e
    # run from the package directory: some tests read files beside them
    (cd "$src" && KGO_SEEDS="$BOOTSTRAP" KGO_TEST_RF=$KGO_TEST_RF KGO_TEST_RECORDS=$KGO_TEST_RECORDS \
        KGO_LOG_LEVEL="${KGO_LOG_LEVEL:-none}" \
        timeout -k 10 "$TEST_TIMEOUT_S" "$BINARY" -test.run "^${name}\$" -test.v -test.count=1 \
        -test.timeout "$((TEST_TIMEOUT_S + 60))s") > "$log" 2>&1
    rc=$?
    set -e
    if grep -q "^--- PASS: $name " "$log" && [[ $rc -eq 0 ]]; then
        outcome=pass; passed=$((passed + 1))
    elif grep -q "^--- SKIP: $name " "$log" && [[ $rc -eq 0 ]]; then
        outcome=skip; skipped=$((skipped + 1))
    else
        outcome=fail; failed=$((failed + 1))
        [[ $rc -eq 124 || $rc -eq 137 ]] && outcome="fail (timeout ${TEST_TIMEOUT_S}s)"
    fi
    sub_pass="$(grep -cE '^\s+--- PASS' "$log" || true)"
    sub_skip="$(grep -cE '^\s+--- SKIP' "$log" || true)"
    sub=""
    (( sub_pass + sub_skip > 0 )) && sub="(subtests: $sub_pass passed, $sub_skip skipped)"
    printf '%-56s %-10s %4ss  expected %-4s %s\n' "$name" "$outcome" "$((SECONDS - t0))" \
        "${expected[$name]}" "$sub"
    if [[ ${expected[$name]} == pass && $outcome != pass ]]; then
        regressions+=("$name")
    elif [[ ${expected[$name]} != pass && $outcome == pass ]]; then
        surprises+=("$name")
    fi
done

echo "kafka-peer-suites: $passed passed, $failed failed, $skipped skipped themselves," \
     "$not_run not run, in $((SECONDS - started))s (logs in $WORK/logs)"
if [[ ${#surprises[@]} -gt 0 ]]; then
    echo "kafka-peer-suites: listed as failing but passed (move them to pass): ${surprises[*]}"
fi
if [[ ${#regressions[@]} -gt 0 ]]; then
    echo "kafka-peer-suites: FAIL: allow-listed tests that did not pass: ${regressions[*]}"
    if [[ -n "$BROKER_PID" ]]; then
        echo "--- broker log (tail)"; tail -20 "$WORK/broker/broker.log"
    fi
    exit 1
fi
echo "kafka-peer-suites: PASS: every allow-listed test passed"

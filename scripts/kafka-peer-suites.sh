#!/usr/bin/env bash
# Peer test suites against shardlog, black-box over the Kafka protocol:
#   franz-go    its pkg/kgo integration tests (the Go module from the Go
#               module proxy, pinned), through KGO_SEEDS
#   librdkafka  its tests/ test-runner (C, built from a pinned source tree),
#               through tests/test.conf's bootstrap.servers
# Each test runs in its own process with a timeout, so a hang or a crash
# costs one test. tests/kafka/peer-allowlist-SUITE.txt says which tests
# must pass and, for each other one, why not. Exits 1 when an allow-listed
# test fails (or skips itself). Owns tmp/peer-suites.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FRANZ_GO_VERSION=v1.22.3
LIBRDKAFKA_VERSION=v2.15.0
LIBRDKAFKA_GIT=https://github.com/confluentinc/librdkafka.git
WORK="$REPO_ROOT/tmp/peer-suites"
SHARDLOG_BIN="${SHARDLOG_BIN:-$REPO_ROOT/target/debug/shardlog}"
SUITES=(franz-go)
AGAINST=shardlog
RUN_ALL=0
ONLY=""
TEST_TIMEOUT_S=240
READY_WAIT_S=30
# Partitions of auto-created topics: librdkafka's test scenario (its
# tests/scenarios/default.json) has 4, and its tests count on it.
DEFAULT_PARTITIONS=4
# The suites create hundreds of partitions (franz-go's topics have up to
# 31): preallocate segments in small steps so they do not take gigabytes.
PREALLOCATE_BYTES=1MiB
# What franz-go's test helpers read (pkg/kgo/helpers_test.go): one replica,
# and fewer records than the 500000 its ETL tests default to, for 2 cores.
KGO_TEST_RF=1
KGO_TEST_RECORDS="${KGO_TEST_RECORDS:-10000}"
# librdkafka's tests ask the broker's version this way (skips and features).
LIBRDKAFKA_TEST_KAFKA_VERSION=4.1.0

usage() {
    cat <<EOF
Usage: $(basename "$0") [--suite franz-go|librdkafka|all] [--against shardlog|kafka]
                        [--all] [--only REGEX] [--timeout S]

Runs a peer suite's tests (default: franz-go $FRANZ_GO_VERSION pkg/kgo; librdkafka
$LIBRDKAFKA_VERSION tests/ with --suite librdkafka or all), each in its own
process (timeout --timeout, default ${TEST_TIMEOUT_S}s), and compares the outcome
with tests/kafka/peer-allowlist-SUITE.txt:
  pass NAME            must pass: a failure or a skip fails this script
  skip NAME  REASON    skips itself (needs an API or a setup shardlog lacks)
  fail NAME  REASON    does not pass against shardlog, and why; run only
                       with --all, which reports any that now pass
--against shardlog (default): starts SHARDLOG_BIN (default
  target/debug/shardlog, not built here) with 2 cores and
  --default-partitions $DEFAULT_PARTITIONS, data under tmp/peer-suites;
  KAFKA_BOOTSTRAP=HOST:PORT uses a running broker instead.
--against kafka: Apache Kafka 4.x from scripts/kafka-reference.sh.
--only REGEX: only the listed tests whose name matches.

franz-go comes from the Go module proxy (go mod download). librdkafka is
built from LIBRDKAFKA_SRC (a source tree of $LIBRDKAFKA_VERSION) if set, else
from a clone of $LIBRDKAFKA_GIT at $LIBRDKAFKA_VERSION; about 6 minutes
on 2 cores, once. Per-test output: tmp/peer-suites/logs/SUITE/NAME.log.

Examples:
  SHARDLOG_BIN=tmp/bin/shardlog scripts/kafka-peer-suites.sh
  scripts/kafka-peer-suites.sh --suite all --all
  scripts/kafka-peer-suites.sh --suite librdkafka --only '^00(1|2)'
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --suite)
            case "$2" in
                franz-go|librdkafka) SUITES=("$2") ;;
                all) SUITES=(franz-go librdkafka) ;;
                *) echo "--suite: franz-go, librdkafka or all" >&2; exit 2 ;;
            esac
            shift 2 ;;
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

# --- franz-go: its module, its pkg/kgo test binary --------------------------

FRANZ_GO_SRC="$WORK/franz-go-$FRANZ_GO_VERSION"
FRANZ_GO_BINARY="$WORK/kgo-$FRANZ_GO_VERSION.test"

franz_go_build() {
    [[ -x "$FRANZ_GO_BINARY" && -d "$FRANZ_GO_SRC" ]] && return 0
    local dir
    dir="$(go mod download -json "github.com/twmb/franz-go@$FRANZ_GO_VERSION" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    # the module cache is read-only; build from a writable copy
    rm -rf "$FRANZ_GO_SRC"
    cp -r "$dir" "$FRANZ_GO_SRC"
    chmod -R u+w "$FRANZ_GO_SRC"
    echo "kafka-peer-suites: building franz-go $FRANZ_GO_VERSION pkg/kgo tests"
    (cd "$FRANZ_GO_SRC" && go test -c -o "$FRANZ_GO_BINARY.partial" ./pkg/kgo)
    mv "$FRANZ_GO_BINARY.partial" "$FRANZ_GO_BINARY"
}

# Runs one test into $2; prints pass, skip or fail.
franz_go_run() {
    local name="$1" log="$2" rc
    set +e
    # from the package directory: some tests read files beside them
    (cd "$FRANZ_GO_SRC/pkg/kgo" && KGO_SEEDS="$BOOTSTRAP" KGO_TEST_RF=$KGO_TEST_RF \
        KGO_TEST_RECORDS=$KGO_TEST_RECORDS KGO_LOG_LEVEL="${KGO_LOG_LEVEL:-none}" \
        timeout -k 10 "$TEST_TIMEOUT_S" "$FRANZ_GO_BINARY" -test.run "^${name}\$" -test.v \
        -test.count=1 -test.timeout "$((TEST_TIMEOUT_S + 60))s") > "$log" 2>&1
    rc=$?
    set -e
    if [[ $rc -eq 0 ]] && grep -q "^--- PASS: $name " "$log"; then echo pass
    elif [[ $rc -eq 0 ]] && grep -q "^--- SKIP: $name " "$log"; then echo skip
    elif [[ $rc -eq 124 || $rc -eq 137 ]]; then echo timeout
    else echo fail
    fi
}

franz_go_detail() {  # subtests, for the line printed per test
    local log="$1" p s
    p="$(grep -cE '^\s+--- PASS' "$log" || true)"
    s="$(grep -cE '^\s+--- SKIP' "$log" || true)"
    (( p + s > 0 )) && echo "(subtests: $p passed, $s skipped)" || true
}

# --- librdkafka: its source, its tests/test-runner ---------------------------

LIBRDKAFKA_DIR="$WORK/librdkafka-$LIBRDKAFKA_VERSION"

librdkafka_build() {
    [[ -x "$LIBRDKAFKA_DIR/tests/test-runner" ]] && return 0
    rm -rf "$LIBRDKAFKA_DIR"
    if [[ -n "${LIBRDKAFKA_SRC:-}" ]]; then
        cp -r "$LIBRDKAFKA_SRC" "$LIBRDKAFKA_DIR"
    else
        git clone -q --depth 1 --branch "$LIBRDKAFKA_VERSION" "$LIBRDKAFKA_GIT" "$LIBRDKAFKA_DIR"
    fi
    echo "kafka-peer-suites: building librdkafka $LIBRDKAFKA_VERSION and its test-runner" \
         "(log: $WORK/librdkafka-build.log)"
    # plaintext only: the tests that need TLS, SASL or OIDC are listed as such
    (cd "$LIBRDKAFKA_DIR" \
        && ./configure --disable-ssl --disable-gssapi --disable-sasl --disable-curl --disable-zstd \
        && make -j"$(nproc)" libs && make -C tests -j"$(nproc)" build) \
        > "$WORK/librdkafka-build.log" 2>&1 \
        || { tail -20 "$WORK/librdkafka-build.log" >&2; exit 1; }
}

librdkafka_run() {
    local name="$1" log="$2" rc
    printf 'bootstrap.servers=%s\n' "$BOOTSTRAP" > "$LIBRDKAFKA_DIR/tests/test.conf"
    set +e
    # -L: broker tests only; -Q: its quick mode (fewer messages)
    (cd "$LIBRDKAFKA_DIR/tests" \
        && LD_LIBRARY_PATH="$LIBRDKAFKA_DIR/src:$LIBRDKAFKA_DIR/src-cpp" \
           TEST_KAFKA_VERSION=$LIBRDKAFKA_TEST_KAFKA_VERSION \
           timeout -k 10 "$TEST_TIMEOUT_S" ./test-runner -L -Q "$name") > "$log" 2>&1
    rc=$?
    set -e
    # The verdict is the runner's own line: its exit status is not (it can
    # abort while freeing at exit, after a pass).
    # The name is matched as a substring, so tests whose name extends it
    # run too: only this test's own lines count.
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then echo timeout
    elif grep -aqF "Test $name PASSED " "$log"; then echo pass
    elif grep -aqF "Test $name SKIPPED " "$log" || ! grep -aqF "Running test $name =" "$log"; then
        echo skip  # by itself, or not run at all (another test scenario, a known issue)
    else echo fail
    fi
}

librdkafka_detail() {
    local log="$1"
    # the first failed assertion, in a few words
    sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -a -A1 '^### Test' | grep -av '^###\|^--' \
        | head -1 | cut -c1-90 || true
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
                --kafka-listen 127.0.0.1:0 --cores 2 --default-partitions "$DEFAULT_PARTITIONS" \
                --preallocate-bytes "$PREALLOCATE_BYTES" \
                --ready-file "$WORK/broker/ready" > "$WORK/broker/broker.log" 2>&1 < /dev/null &
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
            BOOTSTRAP="$("$REPO_ROOT/scripts/kafka-reference.sh" start "$REF_DIR" \
                --partitions "$DEFAULT_PARTITIONS")"
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
for suite in "${SUITES[@]}"; do
    "${suite//-/_}_build"
done
echo "kafka-peer-suites: suites ready in $((SECONDS - started))s"
start_broker
echo "kafka-peer-suites: against $AGAINST at $BOOTSTRAP"

failing_suites=0
for suite in "${SUITES[@]}"; do
    allowlist="$REPO_ROOT/tests/kafka/peer-allowlist-$suite.txt"
    logs="$WORK/logs/$suite"
    rm -rf "$logs"; mkdir -p "$logs"
    declare -A expected=()
    order=()
    while read -r verdict name _; do
        [[ -z "$verdict" || "$verdict" == \#* ]] && continue
        case "$verdict" in pass|skip|fail) ;; *) echo "$allowlist: bad line: $verdict $name" >&2; exit 2 ;; esac
        expected[$name]=$verdict
        order+=("$name")
    done < "$allowlist"

    suite_started=$SECONDS
    passed=0; failed=0; skipped=0; not_run=0
    regressions=(); surprises=()
    echo "=== $suite"
    for name in "${order[@]}"; do
        if [[ -n "$ONLY" && ! "$name" =~ $ONLY ]] || [[ ${expected[$name]} == fail && $RUN_ALL -eq 0 ]]; then
            not_run=$((not_run + 1))
            continue
        fi
        t0=$SECONDS
        log="$logs/$name.log"
        outcome="$("${suite//-/_}_run" "$name" "$log")"
        case "$outcome" in
            pass) passed=$((passed + 1)) ;;
            skip) skipped=$((skipped + 1)) ;;
            *) failed=$((failed + 1)) ;;
        esac
        printf '%-56s %-8s %4ss  expected %-4s %s\n' "$name" "$outcome" "$((SECONDS - t0))" \
            "${expected[$name]}" "$("${suite//-/_}_detail" "$log")"
        if [[ ${expected[$name]} == pass && $outcome != pass ]]; then
            regressions+=("$name")
        elif [[ ${expected[$name]} != pass && $outcome == pass ]]; then
            surprises+=("$name")
        fi
    done

    echo "kafka-peer-suites: $suite: $passed passed, $failed failed, $skipped skipped themselves," \
         "$not_run not run, in $((SECONDS - suite_started))s (logs in $logs)"
    if [[ ${#surprises[@]} -gt 0 ]]; then
        echo "kafka-peer-suites: $suite: listed as not passing but passed: ${surprises[*]}"
    fi
    if [[ ${#regressions[@]} -gt 0 ]]; then
        echo "kafka-peer-suites: $suite: FAIL: allow-listed tests that did not pass: ${regressions[*]}"
        failing_suites=$((failing_suites + 1))
    fi
    unset expected
done

if [[ $failing_suites -gt 0 ]]; then
    if [[ -n "$BROKER_PID" ]]; then
        echo "--- broker log (tail)"; tail -20 "$WORK/broker/broker.log"
    fi
    exit 1
fi
echo "kafka-peer-suites: PASS: every allow-listed test passed"

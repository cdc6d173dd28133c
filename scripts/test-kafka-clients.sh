#!/usr/bin/env bash
# The Kafka-client conformance suite (tests/kafka): installs the clients
# (scripts/kafka-clients-setup.sh), then runs pytest against a fresh shardlog
# (the suite starts it: target/debug/shardlog, built here) or, with
# --against kafka, against Apache Kafka started by scripts/kafka-reference.sh
# (native-protocol tests skip there). Exits non-zero when a test fails.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AGAINST=shardlog
BUILD=1

usage() {
    cat <<EOF
Usage: $(basename "$0") [--against shardlog|kafka] [--no-build] [-- PYTEST ARGS...]

--against shardlog (default): builds target/debug/shardlog (unless
  --no-build or SHARDLOG_BIN is set); the suite starts it with 2 cores and
  data under tmp/, and stops it at the end.
--against kafka: starts Apache Kafka 4.x on loopback (tmp/kafka-suite-ref),
  runs the suite against it, stops it.
KAFKA_BOOTSTRAP=HOST:PORT in the environment runs the suite against that
broker instead (nothing is started).

Examples:
  scripts/test-kafka-clients.sh
  scripts/test-kafka-clients.sh --against kafka
  scripts/test-kafka-clients.sh -- -k compression -x
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --against) AGAINST="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

cd "$REPO_ROOT"
started=$SECONDS
scripts/kafka-clients-setup.sh
echo "test-kafka-clients: clients ready in $((SECONDS - started))s"

PYTEST=(tmp/kafka-clients/venv/bin/python -m pytest tests/kafka -p no:cacheprovider -ra "$@")

if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
    echo "test-kafka-clients: against $KAFKA_BOOTSTRAP"
    exec "${PYTEST[@]}"
fi

case "$AGAINST" in
    shardlog)
        if [[ $BUILD -eq 1 && -z "${SHARDLOG_BIN:-}" ]]; then
            cargo build --quiet --bin shardlog
        fi
        exec "${PYTEST[@]}"
        ;;
    kafka)
        ref="$REPO_ROOT/tmp/kafka-suite-ref"
        scripts/kafka-reference.sh stop "$ref"
        trap 'scripts/kafka-reference.sh stop "$ref"' EXIT
        KAFKA_BOOTSTRAP="$(scripts/kafka-reference.sh start "$ref")"
        echo "test-kafka-clients: Apache Kafka at $KAFKA_BOOTSTRAP"
        unset SHARDLOG_NATIVE
        KAFKA_BOOTSTRAP="$KAFKA_BOOTSTRAP" KAFKA_BROKER_LOG="$ref/kafka.log" "${PYTEST[@]}"
        ;;
    *) echo "--against: shardlog or kafka, not $AGAINST" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The whole test suite, what the README and CI run: the Rust tests
# (`cargo test --workspace`), then the Kafka-client suite (tests/kafka:
# confluent-kafka, kafka-python, the Java kafka-clients and kcat, installed
# from the package registries into tmp/ by scripts/kafka-clients-setup.sh)
# against a freshly started broker. Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace "$@"
scripts/test-kafka-clients.sh --no-build

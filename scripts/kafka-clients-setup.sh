#!/usr/bin/env bash
# Installs the Kafka clients that tests/kafka runs, all from package
# registries and idempotently (a second run only checks): a Python venv in
# tmp/kafka-clients/venv (pytest, confluent-kafka = librdkafka, kafka-python),
# kcat from Debian if missing, and the Java kafka-clients jars (Maven
# Central, tests/kafka/java/clients/pom.xml) with RoundTrip.java compiled
# against them, and (through scripts/kafka-reference.sh jars) Kafka's tools.
# Owns tmp/kafka-clients/{venv,java-lib,java-classes}.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$REPO_ROOT/tmp/kafka-clients"
VENV="$DIR/venv"
JAVA_SRC="$REPO_ROOT/tests/kafka/java/clients"
JAVA_LIB="$DIR/java-lib"
JAVA_CLASSES="$DIR/java-classes"
PY_PACKAGES=(pytest==9.2.0 confluent-kafka==2.16.1 kafka-python==3.0.12)

mkdir -p "$DIR"

# Python: reinstall only when the pinned list changes.
pins="${PY_PACKAGES[*]}"
if [[ ! -x "$VENV/bin/python" || "$(cat "$VENV/.pins" 2>/dev/null)" != "$pins" ]]; then
    echo "kafka-clients-setup: python venv ($pins)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "${PY_PACKAGES[@]}"
    echo "$pins" > "$VENV/.pins"
fi

# kcat: Debian's package, only when none is on PATH.
if ! command -v kcat > /dev/null; then
    echo "kafka-clients-setup: kcat from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq kcat > /dev/null
fi

# Java: jars, resolved again only when the pom changes.
if [[ ! -f "$JAVA_LIB/.complete" || "$JAVA_SRC/pom.xml" -nt "$JAVA_LIB/.complete" ]]; then
    echo "kafka-clients-setup: Java kafka-clients jars"
    rm -rf "$JAVA_LIB"
    mvn -q -B -Dstyle.color=never -f "$JAVA_SRC/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$JAVA_LIB"
    touch "$JAVA_LIB/.complete"
fi
# Every program in java/clients; compiled again when one is newer than its class.
java_stale=0
for src in "$JAVA_SRC"/*.java; do
    class="$JAVA_CLASSES/$(basename "$src" .java).class"
    if [[ ! -f "$class" || "$src" -nt "$class" || "$JAVA_LIB/.complete" -nt "$class" ]]; then
        java_stale=1
    fi
done
if [[ $java_stale -eq 1 ]]; then
    echo "kafka-clients-setup: compiling the Java programs"
    rm -rf "$JAVA_CLASSES"
    mkdir -p "$JAVA_CLASSES"
    javac -nowarn -d "$JAVA_CLASSES" -cp "$JAVA_LIB/*" "$JAVA_SRC"/*.java
fi

# Kafka's broker and tools jars (scripts/kafka-reference.sh): the
# VerifiableProducer/Consumer that test_verifiable.py runs.
"$REPO_ROOT/scripts/kafka-reference.sh" jars > /dev/null

echo "kafka-clients-setup: ready ($("$VENV/bin/python" -c 'import confluent_kafka as c, kafka; print("confluent-kafka", c.__version__, "librdkafka", c.libversion()[0], "kafka-python", kafka.__version__)'), $(kcat -V 2>&1 | grep -o 'librdkafka version [^ ]*' || echo kcat), java $(java -version 2>&1 | head -1 | cut -d'"' -f2))"

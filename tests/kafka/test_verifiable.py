"""Kafka's VerifiableProducer and VerifiableConsumer against a shardlog that
is SIGKILLed every 8 s: the short version of scripts/kafka-verifiable.sh.
Every acknowledged record must be consumed. It starts and kills its own
broker (SHARDLOG_BIN, as the suite's), so it runs only when the suite
started shardlog itself, never against a broker it was pointed at."""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts/kafka-verifiable.sh"
DURATION_S = 30
KILL_EVERY_S = 8
CATCH_UP_S = 15
# the run, the tools' start, the jars (resolved once) and the catch-up
RUN_TIMEOUT_S = 180


def test_no_acked_record_lost_across_sigkills(broker):
    if os.environ.get("KAFKA_BOOTSTRAP") or broker.native is None:
        pytest.skip("kills its own shardlog: runs only when the suite started shardlog")
    env = dict(os.environ)
    env.setdefault("SHARDLOG_BIN", str(REPO_ROOT / "target/debug/shardlog"))
    proc = subprocess.run(
        [str(SCRIPT), "--duration", str(DURATION_S), "--kill-every", str(KILL_EVERY_S),
         "--catch-up", str(CATCH_UP_S), "--throughput", "1000",
         "--dir", str(REPO_ROOT / "tmp/kafka-verifiable-ci")],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)
    summary = proc.stdout + proc.stderr[-3000:]
    assert proc.returncode == 0, f"kafka-verifiable.sh failed:\n{summary}"
    assert "PASS" in proc.stdout, summary
    restarts = re.search(r"^restarts\s+(\d+)", proc.stdout, re.M)
    assert restarts and int(restarts.group(1)) >= 2, summary

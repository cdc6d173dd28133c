"""The README's Kafka quickstart, exactly as written but for the address:
the kcat lines, then the confluent-kafka snippet."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
RUN_TIMEOUT_S = 60


def block(start_marker, end_marker, fence):
    text = README.read_text()
    start = text.index(start_marker)
    end = text.index(end_marker, start)
    body = text[start:end]
    match = re.search(rf"```{fence}\n(.*?)```", body, re.S)
    assert match, f"no ```{fence} block after {start_marker}"
    return match.group(1)


def test_the_kcat_quickstart_works_as_written(broker):
    lines = [l for l in block("<!-- kafka-quickstart:begin -->", "<!-- kafka-quickstart:end -->",
                              "sh").splitlines() if l.strip()]
    assert any("kcat" in l and "-C" in l for l in lines), lines
    outputs = []
    for line in lines:
        proc = subprocess.run(["sh", "-c", line.replace(DEFAULT_BOOTSTRAP, broker.bootstrap)],
                              capture_output=True, timeout=RUN_TIMEOUT_S)
        assert proc.returncode == 0, f"{line}\n{proc.stderr.decode(errors='replace')}"
        outputs.append(proc.stdout.decode())
    consumed = sorted(l.split(" ", 1)[1] for l in outputs[-1].splitlines() if l)
    assert consumed == ["user-1=created", "user-2=paid"], outputs[-1]


def test_the_python_quickstart_works_as_written(broker):
    code = block("With confluent-kafka", "Topics a Kafka client names", "python")
    proc = subprocess.run([sys.executable, "-c", code.replace(DEFAULT_BOOTSTRAP, broker.bootstrap)],
                          capture_output=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    # The topic was made by the kcat quickstart or, alone, auto-created
    # with one partition: partition 0 holds the record either way.
    assert proc.stdout.decode().strip().startswith("b'"), proc.stdout

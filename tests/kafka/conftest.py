"""The broker under test, for every test in tests/kafka.

KAFKA_BOOTSTRAP=HOST:PORT points the suite at a running Kafka-compatible
broker (then the native-protocol tests run only if SHARDLOG_NATIVE=HOST:PORT
names that broker's native listener). Unset, the suite starts shardlog itself
(SHARDLOG_BIN, default target/debug/shardlog) with its data under tmp/ on the
real disk, reads the ready file and kills the broker at the end.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import unique_topic

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_WAIT_S = 30


@dataclass
class Broker:
    bootstrap: str  # Kafka bootstrap HOST:PORT
    native: str | None  # shardlog's native listener, None for other brokers
    log: Path | None  # the broker's log, when the suite started it

    def log_tail(self, lines=40):
        if self.log is None or not self.log.exists():
            return "(no broker log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _start_shardlog(workdir: Path):
    binary = os.environ.get("SHARDLOG_BIN", str(REPO_ROOT / "target/debug/shardlog"))
    ready = workdir / "ready"
    log = workdir / "broker.log"
    cmd = [binary, "serve", "--data-dir", str(workdir / "data"),
           "--listen", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0",
           "--cores", "2", "--ready-file", str(ready)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + READY_WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"shardlog exited with {proc.returncode}:\n{log.read_text()}")
        if ready.exists():
            lines = ready.read_text().splitlines()
            kafka = [l.split(" ", 1)[1] for l in lines if l.startswith("kafka ")]
            if lines and kafka:
                return proc, Broker(bootstrap=kafka[0], native=lines[0].strip(), log=log)
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    raise RuntimeError(f"no ready file with a kafka line after {READY_WAIT_S}s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def broker():
    if os.environ.get("KAFKA_BOOTSTRAP"):
        log = os.environ.get("KAFKA_BROKER_LOG")
        yield Broker(bootstrap=os.environ["KAFKA_BOOTSTRAP"],
                     native=os.environ.get("SHARDLOG_NATIVE"),
                     log=Path(log) if log else None)
        return
    (REPO_ROOT / "tmp").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="kafka-suite-", dir=REPO_ROOT / "tmp"))
    proc = None
    try:
        proc, b = _start_shardlog(workdir)
        yield b
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if os.environ.get("KAFKA_SUITE_KEEP"):
            print(f"broker files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def bootstrap(broker):
    return broker.bootstrap


@pytest.fixture
def native(broker):
    if broker.native is None:
        pytest.skip("native protocol: the broker under test is not shardlog "
                    "(set SHARDLOG_NATIVE=HOST:PORT if it is)")
    return broker.native


@pytest.fixture(autouse=True)
def _shardlog_deviation(request):
    marker = request.node.get_closest_marker("shardlog_deviation")
    if marker is not None and request.getfixturevalue("broker").native is not None:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=marker.args[0]))


@pytest.fixture
def topic(request):
    return unique_topic(request.node.name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, append the tail of the broker's log to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "broker" in item.funcargs:
        report.sections.append(("broker log (tail)", item.funcargs["broker"].log_tail()))

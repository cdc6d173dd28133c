"""Idempotent producers: the Java 4.x producer and kafka-python 3.x with
their defaults (idempotence on, acks=all), confluent-kafka with
enable.idempotence=true. Each acknowledged record is read back exactly once;
and through a broker kill -9 and restart mid-stream (shardlog only: the
test starts its own broker on fixed ports), every acknowledged record is
present exactly once."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from kafka import KafkaProducer

from helpers import consumer, create_topic, producer, unique_topic
from confluent_kafka import TopicPartition

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = REPO_ROOT / "tmp/kafka-clients"
COUNT = 300
READY_WAIT_S = 30
READ_DEADLINE_S = 30


def read_values(bootstrap, topic, partitions):
    """Every record of the topic, as {(partition, offset): value}."""
    c = consumer(bootstrap)
    try:
        ends = {}
        for p in range(partitions):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends[p] = high
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        got = {}
        deadline = time.monotonic() + READ_DEADLINE_S
        while sum(1 for (p, o) in got if o < ends[p]) < sum(ends.values()):
            assert time.monotonic() < deadline, f"read {len(got)} of {sum(ends.values())}"
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            got[(msg.partition(), msg.offset())] = msg.value().decode()
        return got
    finally:
        c.close()


def assert_exactly_once(stored, acked):
    """Each acknowledged value is stored exactly once, at its acked place."""
    counts = {}
    for value in stored.values():
        counts[value] = counts.get(value, 0) + 1
    duplicates = {v: n for v, n in counts.items() if n > 1}
    assert not duplicates, f"duplicates: {list(duplicates.items())[:10]}"
    for (partition, offset), value in acked.items():
        assert stored.get((partition, offset)) == value, (partition, offset, value)


def test_idempotent_java_producer_defaults(bootstrap, topic):
    create_topic(bootstrap, topic, 3)
    classpath = f"{TOOLS / 'java-lib'}/*:{TOOLS / 'java-classes'}"
    if not (TOOLS / "java-classes/IdempotentProduce.class").exists():
        pytest.fail("IdempotentProduce.class missing: run scripts/kafka-clients-setup.sh")
    proc = subprocess.run(["java", "-Xmx256m", "-cp", classpath, "IdempotentProduce",
                           bootstrap, topic, str(COUNT)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"IdempotentProduce failed:\n{proc.stderr[-3000:]}"
    acked = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            acked[(r["partition"], r["offset"])] = r["value"]
    assert len(acked) == COUNT
    assert_exactly_once(read_values(bootstrap, topic, 3), acked)


def test_idempotent_kafka_python_defaults(bootstrap, topic):
    create_topic(bootstrap, topic, 3)
    prod = KafkaProducer(bootstrap_servers=bootstrap)  # 3.x: idempotent, acks=all
    try:
        futures = [(f"kp-idem-{i}", prod.send(topic, key=f"k{i % 5}".encode(),
                                              value=f"kp-idem-{i}".encode()))
                   for i in range(COUNT)]
        prod.flush(timeout=60)
        acked = {}
        for value, f in futures:
            m = f.get(timeout=30)
            acked[(m.partition, m.offset)] = value
    finally:
        prod.close(timeout=10)
    assert len(acked) == COUNT
    assert_exactly_once(read_values(bootstrap, topic, 3), acked)


def produce_confluent(p, topic, values, acked, errors):
    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked[(msg.partition(), msg.offset())] = msg.value().decode()
    for value in values:
        while True:
            try:
                p.produce(topic, key=value[-1:].encode(), value=value.encode(),
                          on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)


def test_idempotent_confluent_producer(bootstrap, topic):
    create_topic(bootstrap, topic, 3)
    p = producer(bootstrap, **{"enable.idempotence": True})
    acked, errors = {}, []
    produce_confluent(p, topic, [f"cf-idem-{i}" for i in range(COUNT)], acked, errors)
    assert p.flush(60) == 0
    assert not errors, errors[:5]
    assert len(acked) == COUNT
    assert_exactly_once(read_values(bootstrap, topic, 3), acked)


# --- kill -9 and restart mid-stream (shardlog only) --------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortTaken(RuntimeError):
    """The broker could not bind a port another process took meanwhile."""


class RestartableBroker:
    """A shardlog broker of its own, on fixed ports, that can be killed
    with SIGKILL and started again on the same ports and data."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.pick_ports()
        self.proc = None
        self.starts = 0

    def pick_ports(self):
        # Every port the broker binds, each found free: the core's own
        # native port too (by default the listen port + 1, which nobody
        # checked, and another process's ephemeral port could hold it).
        self.native_port = free_port()
        self.core_port = free_port()
        self.kafka_port = free_port()

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.kafka_port}"

    def start(self):
        # A port found free can be taken before the broker binds it: on the
        # first start, pick others and try again (a restart must keep them).
        for attempt in range(3):
            try:
                return self.start_once()
            except PortTaken:
                if self.starts > 1 or attempt == 2:
                    raise
                self.pick_ports()

    def start_once(self):
        binary = os.environ.get("SHARDLOG_BIN", str(REPO_ROOT / "target/debug/shardlog"))
        ready = self.workdir / "ready"
        ready.unlink(missing_ok=True)
        self.starts += 1
        log = self.workdir / f"broker-{self.starts}.log"
        cmd = [binary, "serve", "--data-dir", str(self.workdir / "data"),
               "--listen", f"127.0.0.1:{self.native_port}",
               "--core-port-base", str(self.core_port),
               "--kafka-listen", f"127.0.0.1:{self.kafka_port}",
               "--cores", "1", "--ready-file", str(ready)]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + READY_WAIT_S
        while not ready.exists():
            if self.proc.poll() is not None:
                text = log.read_text()
                if "is already in use" in text:
                    raise PortTaken(text)
                raise RuntimeError(f"shardlog exited:\n{text}")
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def restartable_broker(broker):
    if broker.native is None:
        pytest.skip("kill -9 and restart: only for a shardlog the test starts itself")
    (REPO_ROOT / "tmp").mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="kafka-idem-restart-", dir=REPO_ROOT / "tmp"))
    b = RestartableBroker(workdir)
    b.start()
    try:
        yield b
    finally:
        b.stop()
        if not os.environ.get("KAFKA_SUITE_KEEP"):
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)


def kill_mid_stream(b, acked, total):
    """Starts a thread that SIGKILLs the broker once a quarter of `total`
    records are acknowledged (or after 30 s) and starts it again; returns
    the event it sets after the kill, and the thread."""
    killed = threading.Event()

    def killer():
        deadline = time.monotonic() + 30
        while len(acked) < total // 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        b.kill()
        killed.set()
        time.sleep(0.5)
        b.start()

    t = threading.Thread(target=killer)
    t.start()
    return killed, t


def test_idempotent_producer_through_kill_and_restart(restartable_broker):
    b = restartable_broker
    topic = unique_topic("idempotent-kill")
    create_topic(b.bootstrap, topic, 2)
    p = producer(b.bootstrap, **{"enable.idempotence": True, "message.timeout.ms": 60000,
                                 "linger.ms": 2, "retry.backoff.ms": 100,
                                 "reconnect.backoff.ms": 100})
    acked, errors = {}, []
    total = 3000
    killed, t = kill_mid_stream(b, acked, total)
    produce_confluent(p, topic, [f"kill-{i}" for i in range(total)], acked, errors)
    t.join()
    assert killed.is_set()
    assert p.flush(90) == 0
    assert not errors, errors[:5]
    assert len(acked) == total, f"{len(acked)} of {total} acknowledged"
    assert_exactly_once(read_values(b.bootstrap, topic, 2), acked)


def test_idempotent_kafka_python_through_kill_and_restart(restartable_broker):
    """kafka-python 3.x with its defaults (idempotent, acks=all, retries):
    every acknowledged record present exactly once after a kill -9."""
    b = restartable_broker
    topic = unique_topic("idempotent-kill-kp")
    create_topic(b.bootstrap, topic, 2)
    prod = KafkaProducer(bootstrap_servers=b.bootstrap, linger_ms=2,
                         reconnect_backoff_ms=100, retry_backoff_ms=100)
    acked, errors = {}, []
    lock = threading.Lock()
    total = 3000

    def on_ack(value):
        def record(m):
            with lock:
                acked[(m.partition, m.offset)] = value
        return record

    killed, t = kill_mid_stream(b, acked, total)
    try:
        for i in range(total):
            value = f"kp-kill-{i}"
            f = prod.send(topic, key=value[-1:].encode(), value=value.encode())
            f.add_callback(on_ack(value))
            f.add_errback(lambda e: errors.append(repr(e)))
            if i % 100 == 0:
                time.sleep(0.005)  # spread the sends so the kill lands mid-stream
        t.join()
        prod.flush(timeout=120)
    finally:
        prod.close(timeout=10)
    assert killed.is_set()
    assert not errors, errors[:5]
    assert len(acked) == total, f"{len(acked)} of {total} acknowledged"
    assert_exactly_once(read_values(b.bootstrap, topic, 2), acked)

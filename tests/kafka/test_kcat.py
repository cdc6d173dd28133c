"""kcat (librdkafka's command line tool): -L metadata, -P with keys and
headers, -C -e reading them back."""

import re
import subprocess

from helpers import create_topic

KCAT_TIMEOUT_S = 60
PARTITIONS = 2


def kcat(bootstrap, *args, stdin=None):
    proc = subprocess.run(["kcat", "-b", bootstrap, "-X", "client.id=kcat", *args], input=stdin,
                          capture_output=True, timeout=KCAT_TIMEOUT_S)
    assert proc.returncode == 0, f"kcat {args} failed: {proc.stderr.decode(errors='replace')}"
    return proc.stdout.decode()


def test_list_brokers_and_partitions(bootstrap, topic):
    create_topic(bootstrap, topic, PARTITIONS)
    out = kcat(bootstrap, "-L", "-t", topic)
    brokers = re.findall(r"broker (\d+) at (\S+)", out)
    assert brokers, out
    assert f'topic "{topic}" with {PARTITIONS} partitions' in out, out
    partitions = re.findall(r"partition (\d+), leader (\d+)", out)
    assert sorted(int(p) for p, _ in partitions) == list(range(PARTITIONS)), out
    broker_ids = {b for b, _ in brokers}
    assert all(leader in broker_ids for _, leader in partitions), out


def test_produce_keys_headers_and_read_back(bootstrap, topic):
    create_topic(bootstrap, topic, PARTITIONS)
    lines = [f"user-{i % 3}:event {i}" for i in range(12)]
    kcat(bootstrap, "-P", "-t", topic, "-K", ":", "-H", "source=kcat", "-H", "run=1",
         stdin=("\n".join(lines) + "\n").encode())
    out = kcat(bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
               "-f", "%p|%o|%k|%s|%h\n")
    got = [l.split("|") for l in out.splitlines() if l]
    assert len(got) == len(lines), out
    assert sorted(f"{k}:{v}" for _, _, k, v, _ in got) == sorted(lines)
    assert all(h == "source=kcat,run=1" for *_, h in got), out
    partition_of_key = {}
    for p, _, k, _, _ in got:
        assert partition_of_key.setdefault(k, p) == p
    # within a partition, kcat prints offsets in order and values in produce order
    for p in set(partition_of_key.values()):
        mine = [(int(o), v) for pp, o, _, v, _ in got if pp == p]
        assert [o for o, _ in mine] == sorted(o for o, _ in mine)
        assert [v for _, v in mine] == [l.split(":", 1)[1] for l in lines
                                        if partition_of_key[l.split(":", 1)[0]] == p]

#!/usr/bin/env python3
"""The verdict of scripts/kafka-verifiable.sh: reads the JSON events of
Kafka's VerifiableProducer (one file) and VerifiableConsumers (--verbose, one
file each) and checks that every acknowledged record was consumed, at the
offset it was acknowledged at, with the value it was sent with.

Counts, per (partition, offset):
  acked       producer_send_success events (the broker said: stored)
  consumed    distinct positions seen in record_data events
  lost        acked positions never consumed, or consumed with another
              value (the acked record is gone and its offset was reused)
  duplicates  record_data events beyond the first for a position
              (at-least-once allows them: a rebalance or a restart
              re-reads from the last commit)
  unacked     positions consumed that no success event names (a send that
              timed out or failed may still have been written; allowed)
  rewritten   values stored at more than one position (a retried send
              written twice); --idempotent makes them fail the check

--wait-s N follows the files until every acked position is consumed or the
consumers make no progress for N seconds, then prints the verdict.
Exits 1 when a record is lost, 0 otherwise. Standard library only.
"""

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

POLL_S = 0.5
EXAMPLES_MAX = 10


class Follower:
    """Reads the complete lines a file gains between calls."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def new_events(self):
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if not line.startswith(b"{"):
                continue  # the tools' stdout holds only events; be lenient anyway
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by SIGKILL of the tool


class Verdict:
    def __init__(self, topic: str):
        self.topic = topic
        self.acked = {}  # (partition, offset) -> value
        self.send_errors = 0
        self.send_error_kinds = Counter()
        self.consumed = {}  # (partition, offset) -> Counter of values
        self.records_read = 0
        self.commits_ok = 0
        self.commits_failed = 0
        self.rebalances = 0

    def add_producer_event(self, e):
        name = e.get("name")
        if name == "producer_send_success" and e.get("topic") == self.topic:
            position = (e["partition"], e["offset"])
            previous = self.acked.get(position)
            if previous is not None and previous != e["value"]:
                # the broker acknowledged two records at one position: the
                # first one is lost even if nothing else shows it
                self.acked[position] = ("conflict", previous, e["value"])
            else:
                self.acked[position] = e["value"]
        elif name == "producer_send_error":
            self.send_errors += 1
            self.send_error_kinds[e.get("exception", "?")] += 1

    def add_consumer_event(self, e):
        name = e.get("name")
        if name == "record_data" and e.get("topic") == self.topic:
            self.records_read += 1
            values = self.consumed.setdefault((e["partition"], e["offset"]), Counter())
            values[e["value"]] += 1
        elif name == "offsets_committed":
            if e.get("success"):
                self.commits_ok += 1
            else:
                self.commits_failed += 1
        elif name == "partitions_assigned":
            self.rebalances += 1

    def missing(self):
        """Acked positions not (yet) consumed with their value."""
        out = []
        for position, value in self.acked.items():
            seen = self.consumed.get(position)
            if isinstance(value, tuple) or not seen or value not in seen:
                out.append(position)
        return sorted(out)

    def summary(self, restarts: int):
        missing = self.missing()
        never_read = [p for p in missing if p not in self.consumed]
        overwritten = [p for p in missing if p in self.consumed]
        duplicates = self.records_read - len(self.consumed)
        unacked = sum(1 for p in self.consumed if p not in self.acked)
        positions_of_value = Counter(v for values in self.consumed.values() for v in values)
        self.rewritten = sum(1 for n in positions_of_value.values() if n > 1)
        partitions = sorted({p for p, _ in self.acked})
        lines = [
            f"acked        {len(self.acked)} records on partitions {partitions}",
            f"send errors  {self.send_errors} (unacked sends; allowed)"
            + (f": {dict(self.send_error_kinds)}" if self.send_errors else ""),
            f"consumed     {len(self.consumed)} positions, {self.records_read} records read",
            f"duplicates   {duplicates} (re-reads; at-least-once allows them)",
            f"unacked      {unacked} consumed positions with no ack (allowed)",
            f"rewritten    {self.rewritten} values stored at more than one offset",
            f"commits      {self.commits_ok} ok, {self.commits_failed} failed; "
            f"{self.rebalances} assignments",
            f"restarts     {restarts}",
            f"lost         {len(missing)} ({len(never_read)} never consumed, "
            f"{len(overwritten)} consumed with another value)",
        ]
        for position in missing[:EXAMPLES_MAX]:
            seen = self.consumed.get(position)
            lines.append(f"  lost partition {position[0]} offset {position[1]}: acked value "
                         f"{self.acked[position]!r}, consumed {dict(seen) if seen else 'nothing'}")
        return "\n".join(lines), len(missing)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--producer", required=True, type=Path, help="VerifiableProducer stdout")
    ap.add_argument("--consumer", required=True, type=Path, action="append",
                    help="a VerifiableConsumer's stdout (--verbose); repeat for each")
    ap.add_argument("--restarts", type=int, default=0, help="broker restarts, for the summary")
    ap.add_argument("--wait-s", type=float, default=0,
                    help="follow the consumers until all acked records are read, or no "
                         "progress for this many seconds")
    ap.add_argument("--idempotent", action="store_true",
                    help="the producer was idempotent: a value stored twice fails the check")
    args = ap.parse_args()

    verdict = Verdict(args.topic)
    for e in Follower(args.producer).new_events():
        verdict.add_producer_event(e)
    consumers = [Follower(p) for p in args.consumer]

    def read_consumers():
        for c in consumers:
            for e in c.new_events():
                verdict.add_consumer_event(e)

    read_consumers()
    if args.wait_s > 0:
        last_progress = time.monotonic()
        remaining = len(verdict.missing())
        while remaining and time.monotonic() - last_progress < args.wait_s:
            time.sleep(POLL_S)
            read_consumers()
            now_remaining = len(verdict.missing())
            if now_remaining < remaining:
                last_progress = time.monotonic()
            remaining = now_remaining

    text, lost = verdict.summary(args.restarts)
    print(text)
    if not verdict.acked:
        print("FAIL: nothing was acknowledged: the producer never reached the broker")
        return 1
    if lost:
        print(f"FAIL: {lost} acknowledged records lost")
        return 1
    if args.idempotent and verdict.rewritten:
        print(f"FAIL: {verdict.rewritten} values written twice by an idempotent producer")
        return 1
    print("PASS: every acknowledged record was consumed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

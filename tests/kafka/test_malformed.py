"""Malformed Kafka frames on raw sockets: garbage, a bogus api key, a frame
cut short, a body that does not parse, absurd lengths. The broker must
close (or answer) that connection, keep serving a bystander connection that
was open meanwhile, and accept new clients. Also: ApiVersions at a version
the broker does not know gets a v0 answer with UNSUPPORTED_VERSION and the
list, which is how clients newer than the broker negotiate down."""

import os
import socket
import struct

import pytest

from helpers import first_offsets, produce_and_wait, producer, read_assigned

IO_TIMEOUT_S = 10
API_VERSIONS = 18
METADATA = 3


def connect(bootstrap):
    host, port = bootstrap.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=IO_TIMEOUT_S)
    s.settimeout(IO_TIMEOUT_S)
    return s


def request(api_key, version, correlation_id, body=b"", client_id=b"malformed-test"):
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def api_versions_ok(s, correlation_id):
    """ApiVersions v0 on socket s: the answer echoes the id, error 0, and lists Produce and Fetch."""
    s.sendall(request(API_VERSIONS, 0, correlation_id))
    (size,) = struct.unpack(">i", read_exact(s, 4))
    body = read_exact(s, size)
    corr, error, count = struct.unpack(">ihi", body[:10])
    keys = {struct.unpack(">hhh", body[10 + 6 * i:16 + 6 * i])[0] for i in range(count)}
    assert (corr, error) == (correlation_id, 0)
    assert {0, 1, API_VERSIONS} <= keys, keys


def closed_or_answered(s, correlation_id):
    """The bad connection must not just hang: closed, or an answer for that id."""
    try:
        head = s.recv(4)
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        pytest.fail(f"no answer and no close within {IO_TIMEOUT_S}s")
    if not head:
        return "closed"
    head += read_exact(s, 4 - len(head))
    (corr,) = struct.unpack(">i", read_exact(s, 4))
    assert corr == correlation_id, f"answer with correlation id {corr}, sent {correlation_id}"
    return "answered"


UNSUPPORTED_VERSION = 35


def test_api_versions_from_the_future(bootstrap):
    s = connect(bootstrap)
    # version 3+ has a flexible header: client id, then an empty tagged-field
    # section; body: client software name and version (compact strings), no tags
    header = struct.pack(">hhih", API_VERSIONS, 127, 42, 4) + b"test" + b"\x00"
    body = b"\x05test" + b"\x021" + b"\x00"
    s.sendall(struct.pack(">i", len(header + body)) + header + body)
    (size,) = struct.unpack(">i", read_exact(s, 4))
    answer = read_exact(s, size)
    s.close()
    corr, error, count = struct.unpack(">ihi", answer[:10])  # v0: no tagged fields
    assert (corr, error) == (42, UNSUPPORTED_VERSION)
    ranges = {k: (lo, hi) for k, lo, hi in
              (struct.unpack(">hhh", answer[10 + 6 * i:16 + 6 * i]) for i in range(count))}
    # Kafka 4.1 lists ApiVersions alone here (all a client needs to retry);
    # a full list is fine too
    assert API_VERSIONS in ranges, ranges
    assert ranges[API_VERSIONS][0] <= 3 <= ranges[API_VERSIONS][1], ranges


BAD_FRAMES = {
    "garbage": (b"\xde\xad\xbe\xef" + os.urandom(60), True),
    "bogus_api_key": (request(9999, 0, 7), False),
    "unknown_version": (request(METADATA, 999, 7), False),
    # Metadata v1 whose topic array claims 5 topics and holds none
    "body_does_not_parse": (request(METADATA, 1, 7, struct.pack(">i", 5)), False),
    "length_zero": (struct.pack(">i", 0), True),
    "length_negative": (struct.pack(">i", -1), True),
    "length_huge": (struct.pack(">i", 0x7FFFFFFF), True),
    # claims 100 bytes, sends 20, then half-closes
    "truncated": (struct.pack(">i", 100) + request(API_VERSIONS, 0, 7)[4:24], True),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_bad_frame_does_not_hurt_others(bootstrap, case):
    frame, shut_write = BAD_FRAMES[case]
    bystander = connect(bootstrap)
    api_versions_ok(bystander, 1)

    bad = connect(bootstrap)
    bad.sendall(frame)
    if shut_write:
        try:
            bad.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the broker closed it already
    outcome = closed_or_answered(bad, 7)
    bad.close()

    api_versions_ok(bystander, 2)
    bystander.close()
    fresh = connect(bootstrap)
    api_versions_ok(fresh, 3)
    fresh.close()
    print(f"{case}: {outcome}")


def test_clients_work_after_bad_frames(bootstrap, topic):
    for frame, _ in BAD_FRAMES.values():
        s = connect(bootstrap)
        s.sendall(frame)
        s.close()
    reports = produce_and_wait(producer(bootstrap), topic, [{"key": b"k", "value": b"still up"}])
    [msg] = read_assigned(bootstrap, topic, first_offsets(reports), 1)
    assert msg.value() == b"still up"

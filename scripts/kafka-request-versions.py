#!/usr/bin/env python3
"""Which Kafka APIs, at which versions, each client sent: reads the request
log that `scripts/kafka-reference.sh start DIR --request-log` writes
(DIR/requests.log, Kafka's kafka.request.logger at DEBUG) and prints one line
per client id (numbers at the end dropped), with the client software that its
ApiVersions request named. The broker's own requests (client id "1") are left out.

Usage: scripts/kafka-request-versions.py DIR/requests.log
"""

import collections
import json
import re
import sys

PREFIX = "Completed request:"


def main(path):
    versions = collections.defaultdict(lambda: collections.defaultdict(set))
    software = collections.defaultdict(set)
    with open(path) as f:
        for line in f:
            if not line.startswith(PREFIX):
                continue
            entry = json.loads(line[len(PREFIX):])
            header = entry["requestHeader"]
            client = re.sub(r"-\d+$", "", header.get("clientId") or "")
            if client == "1":
                continue
            versions[client][header["requestApiKeyName"]].add(header["requestApiVersion"])
            request = entry.get("request") or {}
            if header["requestApiKey"] == 18 and "clientSoftwareName" in request:
                software[client].add(f'{request["clientSoftwareName"]} {request["clientSoftwareVersion"]}')
    for client in sorted(versions):
        apis = ", ".join(f"{name} v{'/'.join(map(str, sorted(v)))}"
                         for name, v in sorted(versions[client].items()))
        print(f"{client} [{'; '.join(sorted(software[client])) or '?'}]: {apis}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

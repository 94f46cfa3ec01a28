"""The least a Python process can do for a one-shot render: the anchor under ``confagent run --onetime``.

Standard library only, no templates, no asyncio, no configuration files:
one range request for a prefix to etcd's JSON gateway (``http.client``),
``json`` and ``base64`` to decode the answer, then one file per group of
keys (grouped by the key's second path segment), each written
as confagent writes a file (stage, fsync, rename) and the directory
fsynced once. What confagent's one-shot does beyond this (reading conf.d,
compiling and rendering templates, comparing with the files in place,
logging) is its own cost; what this costs is the interpreter's and etcd's.

    python bench/oneshot_floor.py URL PREFIX OUT_DIR

Prints nothing; ``bench/agent_bench.py`` times the whole process. A benchmark
tool, not part of the product.
"""

import base64
import http.client
import json
import os
import sys
import urllib.parse


def fetch(url: str, prefix: bytes) -> list[dict[str, str]]:
    """Every key-value under ``prefix``, from one range request."""
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    body = json.dumps({"key": base64.b64encode(prefix).decode(), "range_end": base64.b64encode(end).decode()})
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc)
    connection.request("POST", "/v3/kv/range", body, {"Content-Type": "application/json"})
    kvs: list[dict[str, str]] = json.loads(connection.getresponse().read()).get("kvs", [])
    connection.close()
    return kvs


def group(kvs: list[dict[str, str]]) -> dict[str, list[str]]:
    """Lines ``key=value`` by the key's second path segment."""
    groups: dict[str, list[str]] = {}
    for kv in kvs:
        key, value = base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")).decode()
        groups.setdefault(key.split("/")[2], []).append(f"{key}={value}\n")
    return groups


def replace(directory: str, name: str, data: bytes) -> None:
    """Stage, fsync and rename one file as ``confagent.fsutil`` does; the caller fsyncs the directory."""
    stage = os.path.join(directory, f".{name}.stage")
    fd = os.open(stage, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(stage, os.path.join(directory, name))


def main() -> None:
    url, prefix, out = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    for name, lines in group(fetch(url, prefix)).items():
        replace(out, f"{name}.conf", "".join(lines).encode())
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()

"""``python -m confagent`` and the real etcdctl 3.4 run with the same arguments (differential tests)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

import pytest

from confagent.testing import confagent_argv

__all__ = ["ETCDCTL", "etcdctl", "ours", "same_output"]

ETCDCTL = "/usr/bin/etcdctl"


def ours(url: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(confagent_argv(*args, "--endpoints", url),
                          input=stdin, capture_output=True, timeout=30, check=False)


def etcdctl(url: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    if not os.path.exists(ETCDCTL):
        pytest.fail("etcdctl is not installed: apt-get install etcd-client")
    return subprocess.run([ETCDCTL, f"--endpoints={url}", *args], input=stdin,
                          capture_output=True, timeout=30, check=False,
                          env={**os.environ, "ETCDCTL_API": "3"})


def same_output(url: str, ours_args: Sequence[str], etcdctl_args: Sequence[str] | None = None,
                stdin: bytes = b"") -> bytes:
    mine = ours(url, *ours_args, stdin=stdin)
    if etcdctl_args is None:
        etcdctl_args = ours_args[1:] if ours_args[0] == "kv" else ours_args
    theirs = etcdctl(url, *etcdctl_args, stdin=stdin)
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout == theirs.stdout
    return mine.stdout

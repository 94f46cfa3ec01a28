"""Fencing: a lock holder paused past its lease cannot undo what the next holder did.

Jepsen found etcd's locks unsafe: a holder that stops (a GC pause, SIGSTOP) past
its lease comes back still believing it holds the lock. Here a real
``confagent lock --ttl 2 NAME COMMAND`` is SIGSTOPped (with its command) until
its lease expires and another process has taken the lock and written; resumed,
its command writes twice: plainly (which lands, clobbering the second holder's
value: the danger) and with ``put --fenced`` (refused: the fence, the key at the
lock's revision, no longer holds). Against a real etcd and confagent alike.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from confagent.client import LOCK_REV_ENV
from confagent.testing import Processes, b64, confagent_argv, post, unb64, until

SYSTEM = [pytest.mark.system]


@pytest.fixture(params=[pytest.param("etcd_server", marks=[*SYSTEM, pytest.mark.etcd]),
                        pytest.param("confagent_server", marks=SYSTEM)])
def store_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(request.param)
    return url


def _count(url: str, prefix: str) -> int:
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    answer = post(url, "/v3/kv/range", {"key": b64(prefix), "range_end": b64(end), "count_only": True})
    return int(answer.json().get("count", 0))


def _value(url: str, key: str) -> str:
    (kv,) = post(url, "/v3/kv/range", {"key": b64(key)}).json()["kvs"]
    return unb64(kv["value"])


def test_a_holder_paused_past_its_lease_has_its_fenced_write_refused(
        store_url: str, processes: Processes, tmp_path: Path) -> None:
    name = f"/locks/fence-{uuid.uuid4().hex[:8]}"
    data, plain = f"{name}-data", f"{name}-plain"
    env = {**os.environ, "CONFAGENT_ENDPOINTS": store_url}
    put = shlex.join(confagent_argv("put"))
    script = (f'echo "held $ETCD_LOCK_REV"; read value; '
              f'{put} {plain} "$value"; {put} --fenced {data} "$value"')
    out, err = tmp_path / "holder.out", tmp_path / "holder.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        holder = processes.popen(confagent_argv("lock", "--ttl", "2", name, "--", "sh", "-c", script),
                                 stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, env=env,
                                 start_new_session=True)
    until(lambda: out.read_text().startswith("held "), "the first holder to take the lock")
    first_revision = int(out.read_text().split()[1])

    os.killpg(holder.pid, signal.SIGSTOP)  # the holder and its command: nothing renews the lease
    try:
        until(lambda: _count(store_url, name + "/") == 0, "the paused holder's lease to expire")
        second = processes.confagent(
            "lock", name, "--", "sh", "-c",
            f'{put} --fenced {data} second && {put} {plain} second && echo "${LOCK_REV_ENV}"', env=env)
        assert second.returncode == 0, second.stderr
        assert int(second.stdout.split()[-1]) > first_revision
    finally:
        os.killpg(holder.pid, signal.SIGCONT)

    assert holder.stdin is not None
    holder.stdin.write(b"first\n")
    holder.stdin.close()
    assert holder.wait(30) == 1
    assert _value(store_url, plain) == "first"  # an unfenced write clobbers the second holder's
    assert _value(store_url, data) == "second"  # the fenced one was refused
    assert f"is no longer held (taken at revision {first_revision}); the write was refused" in err.read_text()
    assert err.read_text().rstrip().endswith("Error: exit status 1")

"""A store seen from a test through etcd's JSON gateway: base64, puts, who leads, writers under load.

These speak plain HTTP (httpx, blocking) to any etcd v3 JSON endpoint, confagent's
or a real etcd's, so a test states its claim in etcd's own terms. Every wait is
bounded (``confagent.testing.until``).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import httpx

from confagent.testing._wait import DEADLINE_S, eventually, until

__all__ = ["Keys", "Writers", "b64", "leader_index", "leader_of", "post", "put_when_led", "unb64"]

REQUEST_TIMEOUT_S = 10.0


def b64(data: str | bytes) -> str:
    """etcd's base64 of a key or value (text is UTF-8 encoded first)."""
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def unb64(text: str) -> str:
    """The UTF-8 text behind etcd's base64."""
    return base64.b64decode(text).decode()


def post(url: str, path: str, body: object, timeout_s: float = REQUEST_TIMEOUT_S) -> httpx.Response:
    """One JSON request to ``url + path``."""
    return httpx.post(url + path, json=body, timeout=timeout_s)


class Keys:
    """Puts and deletes keys at one etcd-API endpoint over one HTTP connection; each returns its revision."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S)

    def put(self, key: str, value: str) -> int:
        answer = self.client.post("/v3/kv/put", json={"key": b64(key), "value": b64(value)})
        answer.raise_for_status()
        return int(answer.json()["header"]["revision"])

    def delete(self, key: str) -> int:
        answer = self.client.post("/v3/kv/deleterange", json={"key": b64(key)})
        answer.raise_for_status()
        return int(answer.json()["header"]["revision"])

    def close(self) -> None:
        self.client.close()


def put_when_led(url: str, key: str, value: str, log: Path | None = None) -> int:
    """Put through ``url``, again until a leader takes it (an election may be on); its revision."""
    keys = Keys(url)
    revisions: list[int] = []

    def accepted() -> bool:
        try:
            revisions.append(keys.put(key, value))
        except httpx.HTTPError:
            return False
        return True

    try:
        until(accepted, f"a put through {url}", log)
    finally:
        keys.close()
    return revisions[-1]


class _Member(Protocol):
    @property
    def url(self) -> str: ...


M = TypeVar("M", bound=_Member)


def leader_index(urls: Sequence[str], *, deadline_s: float = DEADLINE_S) -> int:
    """Which of ``urls`` every one of them names as leader, once they agree (bounded wait).

    A member that does not answer or knows no leader, or a leader that is not among
    ``urls`` (killed, not yet replaced), means: ask again.

    Raises:
        AssertionError: they did not agree within ``deadline_s``.
    """
    found = eventually(lambda: _agreed_leader(urls), lambda index: index is not None,
                       "the members to agree on a leader", deadline_s=deadline_s, pause_s=0.05)
    assert found is not None
    return found


def leader_of(members: Sequence[M], *, deadline_s: float = DEADLINE_S) -> M:
    """The member of ``members`` every one of them names as leader (:func:`leader_index`)."""
    return members[leader_index([member.url for member in members], deadline_s=deadline_s)]


def _agreed_leader(urls: Sequence[str]) -> int | None:
    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
        statuses = [post(url, "/v3/maintenance/status", {}, timeout_s=2.0).json() for url in urls]
        leaders = {status.get("leader", "0") for status in statuses}
        for index, status in enumerate(statuses):
            if leaders == {status["header"]["member_id"]} != {"0"}:
                return index
    return None


class Writers:
    """One thread per URL putting fresh keys until stopped: what was acknowledged, at which revision.

    Writer ``n`` puts ``{prefix}/{n}/0``, ``{prefix}/{n}/1``, ... each with the key as
    its value. A refusal (any status but 200) took no effect or has an unknown fate:
    it is kept in ``refused`` and the writer goes on. A request that fails (the
    member died, the request timed out) ends that writer, its fate unknown, unless
    ``retry_errors`` says to go on.
    """

    def __init__(self, urls: Sequence[str], prefix: str, *, request_timeout_s: float = 5.0,
                 retry_errors: bool = False) -> None:
        self.acked: dict[str, int] = {}
        self.refused: list[str] = []
        self._prefix = prefix
        self._request_timeout_s = request_timeout_s
        self._retry_errors = retry_errors
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._write, args=(n, url), daemon=True)
                         for n, url in enumerate(urls)]

    def start(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop every writer and wait for each (its last request is bounded by its time-out)."""
        self._halt.set()
        for thread in self._threads:
            thread.join(self._request_timeout_s + 10)

    def acknowledged_any(self) -> bool:
        """Whether a write was acknowledged yet: the load is under way (a test waits for it, as a busy
        machine can take longer than any pause to answer the first write)."""
        with self._lock:
            return bool(self.acked)

    def last_acked(self) -> str:
        """The key acknowledged at the highest revision."""
        with self._lock:
            return max(self.acked, key=self.acked.__getitem__)

    def _write(self, writer: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=self._request_timeout_s) as client:
            for i in itertools.count():
                if self._halt.is_set():
                    return
                key = f"{self._prefix}/{writer}/{i}"
                try:
                    reply = client.post("/v3/kv/put", json={"key": b64(key), "value": b64(key)})
                except httpx.HTTPError:
                    if self._retry_errors:
                        continue
                    return
                with self._lock:
                    if reply.status_code == 200:
                        self.acked[key] = int(reply.json()["header"]["revision"])
                    else:
                        self.refused.append(reply.text)

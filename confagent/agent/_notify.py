"""``SystemdNotifier``: the sd_notify protocol with the standard library — readiness, reloads, watchdog.

Rules:
1. ``SystemdNotifier.from_environ()`` reads ``NOTIFY_SOCKET`` (a path, or
   ``@name`` for Linux's abstract namespace) and ``WATCHDOG_USEC`` (honoured
   only when ``WATCHDOG_PID`` is unset or names this process). Without
   ``NOTIFY_SOCKET`` every call does nothing.
2. Each state is one datagram of ``KEY=VALUE`` lines on an ``AF_UNIX``
   datagram socket. A failed send (the manager went away) is ignored: the
   notification is advisory and the agent's work does not depend on it.
3. ``RELOADING=1`` carries ``MONOTONIC_USEC`` (systemd 253's ``Type=notify-reload``
   needs it; older managers ignore it). ``watchdog()`` sends ``WATCHDOG=1``
   every half of the watchdog period until cancelled.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["SystemdNotifier"]


@dataclass(frozen=True, slots=True)
class SystemdNotifier:
    """Where to send notifications, and the watchdog period (None: no watchdog)."""

    address: str | None = None
    """The socket path (a leading NUL for the abstract namespace), or None: notify nobody."""
    watchdog_s: float | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET") or None
        address = "\0" + raw[1:] if raw is not None and raw.startswith("@") else raw
        return cls(address, _watchdog_s(env) if address else None)

    def ready(self, status: str = "") -> None:
        """``READY=1``, with a ``STATUS=`` line when ``status`` is given."""
        self._send("READY=1", f"STATUS={status}" if status else "")

    def reloading(self) -> None:
        self._send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")

    async def watchdog(self) -> None:
        """Send ``WATCHDOG=1`` every half period, until cancelled (returns at once without a watchdog)."""
        if self.watchdog_s is None:
            return
        while True:
            self._send("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_s / 2)

    def _send(self, *lines: str) -> None:
        if self.address is None:
            return
        message = "\n".join(line for line in lines if line).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except OSError:
            return  # rule 2: the manager is gone; nothing to tell


def _watchdog_s(env: Mapping[str, str]) -> float | None:
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    return int(usec) / 1_000_000

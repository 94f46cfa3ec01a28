"""How metad serves its two ports: ``confagent.http_listener`` with the settings below.

As the agent's listener (a clear ``ConfigError`` when the address is taken,
port 0 picks a free port, no uvicorn signal handlers), but uvicorn does not
rewrite the client address from ``X-Forwarded-For`` itself (its default
trusts 127.0.0.1; the data port decides, ``_proxies.py``), sends neither
``Server`` nor ``Date``, and gives requests still running on stop a bounded
grace. The backlog is large, because a thousand hosts long-polling reconnect
together.
"""

from __future__ import annotations

from confagent.http_listener import ListenerSettings

__all__ = ["BACKLOG", "LISTENER_SETTINGS", "SHUTDOWN_GRACE_S"]

BACKLOG = 4096
"""Connections the kernel queues before ``accept``."""
SHUTDOWN_GRACE_S = 3
"""On stop, requests still running after this long are cancelled."""

LISTENER_SETTINGS = ListenerSettings(backlog=BACKLOG, shutdown_grace_s=SHUTDOWN_GRACE_S, proxy_headers=False,
                                     server_header=False, date_header=False)
"""What both of metad's listeners (``--listen``, ``--listen-manage``) are served with."""

"""Helpers for the metad end-to-end tests: a ``confagent metad`` process, clients bound to 127.0.0.x."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from confagent.testing import Processes, ServerProcess, confagent_argv, free_port


@dataclass
class Metad:
    """A running ``confagent metad`` and its two URLs."""

    process: ServerProcess
    data_url: str
    manage_url: str

    def manage(self, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
        """A management request; ``body`` is sent as JSON (a str as given)."""
        content = body if isinstance(body, str) else (None if body is None else json.dumps(body))
        return httpx.request(method, self.manage_url + path, content=content, params=params, timeout=10)

    def stop(self) -> None:
        self.process.stop()


def start_metad(processes: Processes, tmp: Path, *args: str, name: str = "metad") -> Metad:
    """``confagent metad`` on loopback ports (embedded store in ``tmp/name`` unless ``args`` say etcd)."""
    data, manage = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    argv = confagent_argv("metad", "--listen", data, "--listen-manage", manage, "--log-level", "warning",
                          *args)
    if "etcd" not in args:
        argv += ["--data-dir", str(tmp / name)]
    process = ServerProcess("metad", f"http://{manage}", tmp / name, argv, tmp / f"{name}.log",
                            extra_env={"PYTHONUNBUFFERED": "1"})
    processes.server(process).start()
    return Metad(process, f"http://{data}", f"http://{manage}")


def client_from(address: str, timeout_s: float = 10.0) -> httpx.Client:
    """An HTTP client whose requests come from ``address`` (a 127.0.0.x of the loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=timeout_s,
                        trust_env=False)


def text_lines(response: httpx.Response) -> Sequence[str]:
    return response.text.splitlines()

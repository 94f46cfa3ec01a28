"""What a store member imports to serve: the optional parts (JWT tokens, bcrypt, the removal watch's HTTP
client, uvicorn's WebSocket protocol, the gRPC front, prometheus_client) load only when used, so that
every ``confagent store`` and every agent with an embedded store starts without them (bench/README.md,
"Start-up of a store process").

Each case runs in a fresh interpreter and looks at ``sys.modules``: nothing here depends on timing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from confagent.testing import Processes, free_port

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = {"jwt", "cryptography", "bcrypt", "httpx", "httpcore", "trio", "wsproto", "zttp",
            "google.protobuf", "confagent.server.api._grpc_front", "confagent.server.api._grpc_services",
            "prometheus_client"}
"""Loaded on first use only: JWT tokens (``--auth-token jwt``), a password, the removal watch's
first question, a WebSocket (never), the gRPC front and its messages (the first HTTP/2 connection),
prometheus_client (the first scrape of /metrics)."""

SERVE = """
import asyncio, http.client, sys
from pathlib import Path
from confagent.server import StoreServer
from confagent.server.api._member_api import REMOVAL_POLL_S
from confagent.settings import StoreConfig
import uvloop

def ask(port, path, body):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST" if body else "GET", path, body)
    status = connection.getresponse().status
    connection.close()
    return status

async def main(port, data_dir):
    config = StoreConfig(name="s", data_dir=Path(data_dir), listen_client_urls=(f"http://127.0.0.1:{port}",),
                         listen_peer_urls=())
    server = StoreServer(config)
    await server.start()
    try:
        answers = [await asyncio.to_thread(ask, port, path, body) for path, body in (
            ("/health", None), ("/v3/kv/put", '{"key": "YQ==", "value": "Yg=="}'),
            ("/v3/kv/range", '{"key": "YQ=="}'), ("/v3/cluster/member/list", "{}"))]
        assert answers == [200] * 4, answers
        # started before start() returned, the removal watch's first turn (question or none) is done
        # when a sleep as long as its own, begun later, ends: the loop runs timers in deadline order
        await asyncio.sleep(REMOVAL_POLL_S)
    finally:
        await server.stop()

uvloop.run(main(int(sys.argv[1]), sys.argv[2]))
print(" ".join(sorted(sys.modules)))
"""


def modules_after(processes: Processes, statement: str, *args: str) -> set[str]:
    """The modules loaded by a fresh interpreter that ran ``statement`` with ``args``."""
    done = processes.run([sys.executable, "-c", statement, *args], cwd=ROOT, timeout_s=120)
    assert done.returncode == 0, done.stderr.decode()
    return set(done.stdout.decode().splitlines()[-1].split())


def test_importing_the_store_server_loads_no_optional_part(processes: Processes) -> None:
    loaded = modules_after(processes, "import sys, confagent.server._server\nprint(' '.join(sys.modules))")
    assert "uvicorn" in loaded  # what it does load: the statement ran
    assert loaded & OPTIONAL == set()


def test_a_lone_member_serves_without_its_optional_parts(processes: Processes, tmp_path: Path) -> None:
    loaded = modules_after(processes, SERVE, str(free_port()), str(tmp_path / "data"))
    assert "confagent.server.api._member_api" in loaded
    assert loaded & OPTIONAL == set()


def test_a_jwt_token_spec_loads_the_signer(processes: Processes, tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"a secret of thirty-two bytes....")
    statement = ("import sys\nfrom confagent.server._bootstrap import token_settings_of\n"
                 "from confagent.settings import StoreConfig, parse_auth_token\n"
                 "spec = parse_auth_token(f'jwt,priv-key={sys.argv[1]},sign-method=HS256')\n"
                 "assert token_settings_of(StoreConfig(auth_token=spec)).jwt is not None\n"
                 "print(' '.join(sys.modules))")
    assert "jwt" in modules_after(processes, statement, str(tmp_path / "secret"))

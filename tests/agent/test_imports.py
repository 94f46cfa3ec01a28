"""What each entry point imports: a command, the configuration or a backend does not load libraries it
does not use (the embedded store's uvicorn, the etcd client's httpx, Jinja2, the gRPC front's protobuf).

Each case runs in a fresh interpreter and looks at ``sys.modules``: nothing here depends on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import pytest

from confagent.cli import _register_cmd, build_parser
from confagent.client import RegistrationEventKind
from confagent.kv import PutRequest
from confagent.server.node._snapshotter import STOP_SNAPSHOT_ENTRIES
from confagent.server.storage import load_or_keep_identity
from confagent.testing import Processes
from tests.server.node.test_data_dir_reader import MEMBER, _write_then_stop

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("uvicorn", "httpx", "jinja2", "google.protobuf")
BACKEND_LIBRARIES = ("confagent.server", "confagent.client", "yaml", "watchfiles")
DAEMON_PARTS = ("confagent.backends._cache", "confagent.backoff", "confagent.agent._status",
                "confagent.agent._notify", "confagent.agent._debounce")
"""The daemon's own modules (its cache, backoff, status board, systemd notifier, debouncer): a one-shot does
not use them."""
ON_USE = ("difflib", "confagent.render._gotime", "confagent.render._static_host")
"""What only a change shown (a diff), a mistake named (did you mean), a template asking the time or a test's
fixed host loads."""


def modules_after(processes: Processes, statement: str) -> set[str]:
    """The modules loaded by a fresh interpreter that ran ``statement``."""
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    done = processes.run([sys.executable, "-c", code], cwd=ROOT, timeout_s=60)
    assert done.returncode == 0, done.stderr.decode()
    return set(done.stdout.decode().split())


@pytest.mark.parametrize(("statement", "absent"), [
    ("import confagent.config", (*HEAVY, *BACKEND_LIBRARIES)),
    ("import confagent.backends", (*HEAVY, *BACKEND_LIBRARIES)),
    ("import confagent.render", ("jinja2",)),
    ("from confagent.agent import Agent, ConfigSource",
     ("uvicorn", "watchfiles", "prometheus_client", "google.protobuf", "jinja2", *BACKEND_LIBRARIES,
      *DAEMON_PARTS, *ON_USE)),
    ("from confagent.client import EtcdClient",
     ("confagent.kv._store", "confagent.kv._watch", "msgpack", "google.protobuf")),
    ("from confagent.wire import decode_range_request, encode_range_response, decode_range_response",
     ("google.protobuf", "confagent.wire._pb")),
    ("from confagent.kv import MAX_TXN_OPS, prefix_range", ("confagent.kv._messages",)),
])
def test_an_entry_point_loads_only_what_it_uses(processes: Processes, statement: str,
                                                absent: tuple[str, ...]) -> None:
    assert modules_after(processes, statement) & set(absent) == set()


@pytest.mark.parametrize(("statement", "loaded"), [
    ("from confagent.render import make_environment", "jinja2"),
    ("from confagent.backends import EmbeddedBackend", "confagent.server"),
    ("from confagent.backends import EtcdBackend", "httpx"),
    ("from confagent.agent import Daemon", "watchfiles"),
    ("from confagent.agent import AgentMetrics", "prometheus_client"),
    ("from confagent.agent import StatusBoard", "confagent.agent._status"),
    ("from confagent.agent import Agent, ConfigSource\nAgent(ConfigSource(None)).status",
     "confagent.agent._status"),
    ("from confagent.backends import PrefixCache", "confagent.backends._cache"),
    ("from confagent.backends import BackoffPolicy", "confagent.backoff"),
    ("from confagent.render import GoTime", "confagent.render._gotime"),
    ("from confagent.render import StaticHost", "confagent.render._static_host"),
    ("from confagent.kv import KvStore", "confagent.kv._store"),
    ("from confagent.kv import RangeRequest", "confagent.kv._messages"),
    ("from confagent.kv import validate", "confagent.kv._validate"),
    ("from confagent.kv import encode_request", "msgpack"),
    ("from confagent.wire import pb_decode_range_request", "confagent.wire._pb.rpc_pb2"),
])
def test_a_lazy_name_loads_its_module_on_first_use(processes: Processes, statement: str, loaded: str) -> None:
    assert loaded in modules_after(processes, statement)


def test_importing_the_cli_loads_no_server_client_or_jinja2(processes: Processes) -> None:
    absent = {*HEAVY, *BACKEND_LIBRARIES, "confagent.metad", "structlog", "uvloop", "asyncio", "orjson",
              "confagent.kv", "confagent.cli._output"}
    assert modules_after(processes, "import confagent.cli") & absent == set()


def test_the_register_command_words_every_registration_event() -> None:
    # its messages are keyed by the event kinds' names, so that registering the command imports no client
    assert set(_register_cmd._MESSAGES) == {kind.name for kind in RegistrationEventKind}
    assert set(_register_cmd._MESSAGES) >= _register_cmd._WARNINGS


def test_a_run_or_render_command_line_builds_only_its_own_commands(processes: Processes) -> None:
    others = {f"confagent.cli.{name}" for name in ("_kv_cmd", "_metad_cmd", "_store_cmd", "_user_cmd",
                                                    "_role_cmd", "_register_cmd", "_cluster_cmd")}
    for command in ("run", "render"):
        built = f"from confagent.cli import build_parser; build_parser({command!r})"
        loaded = modules_after(processes, built)
        assert loaded & {*others, "confagent.auth", *HEAVY} == set()
    assert modules_after(processes, "from confagent.cli import build_parser; build_parser('get')") >= others


@pytest.mark.parametrize("command", ["run", "render"])
def test_a_run_or_render_command_line_builds_that_command_alone(command: str) -> None:
    def commands(parser: argparse.ArgumentParser) -> set[str]:
        (choices,) = [action.choices for action in parser._actions
                      if isinstance(action, argparse._SubParsersAction)]
        return set(choices)

    assert commands(build_parser(command)) == {command}
    assert commands(build_parser()) >= {"run", "render", "get"}


@pytest.mark.parametrize(("argv", "collecting"), [(["render", "--help"], False), (["run", "--help"], False),
                                                  (["get", "--help"], True)])
def test_a_run_or_render_command_line_builds_its_parsers_without_garbage_collection(
        processes: Processes, argv: list[str], collecting: bool) -> None:
    # their imports are a third of a one-shot's start-up (confagent.cli's module docstring)
    code = ("import gc, confagent.cli as cli\nbuild = cli.build_parser\n"
            "cli.build_parser = lambda command=None: (print(gc.isenabled()), build(command))[1]\n"
            f"cli.main({argv!r})")
    done = processes.run([sys.executable, "-c", code], cwd=ROOT, timeout_s=60)
    assert done.stdout.decode().splitlines()[0] == str(collecting)


@pytest.mark.parametrize("command", [["run", "--onetime"], ["render", "--check"], ["render"]], ids=" ".join)
def test_a_one_shot_leaves_its_objects_frozen_to_the_last_collection(processes: Processes, tmp_path: Path,
                                                                      command: list[str]) -> None:
    # the interpreter's last collection would walk every object of the pass (cli._run_cmd's module
    # docstring): an exit handler registered before the pass runs after its freeze
    (tmp_path / "data.yaml").write_text("imports: {x: from the file}\n")
    argv = [*command, "--confdir", str(_confdir(tmp_path)), "--backend", "file", "--file",
            str(tmp_path / "data.yaml"), "--log-level", "warning"]
    code = ("import atexit, gc\natexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
            f"from confagent.cli import main\nassert main({argv!r}) in (0, 2)")
    done = processes.run([sys.executable, "-c", code], cwd=ROOT, timeout_s=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().splitlines()[-1] == "frozen True"


def test_a_one_shot_from_etcd_reads_over_grpc_without_httpx_or_zttp(processes: Processes, etcd_server: str,
                                                             tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.tmpl").write_text("{{ getv('/imports/x', 'none') }}\n")
    (tmp_path / "conf.d" / "t.toml").write_text(
        f'[template]\nsrc = "t.tmpl"\ndest = "{tmp_path / "t.conf"}"\nkeys = ["/imports"]\n')
    argv = ["run", "--onetime", "--confdir", str(tmp_path), "--backend", "etcd", "--node", etcd_server,
            "--log-level", "warning"]
    loaded = modules_after(processes, f"from confagent.cli import main\nassert main({argv!r}) == 0")
    assert (tmp_path / "t.conf").read_text() == "none\n"
    assert "confagent.backends._grpc_calls" in loaded
    # nor an HTTP/2 stack but its own few frames (backends._grpc_calls)
    assert loaded & {"httpx", "httpcore", "confagent.client", "confagent.cli._kv_cmd", "zttp"} == set()
    # nothing logged at this level: no structlog (confagent.cli._logs rule 4); no output format; asyncio's
    # loop; no message type of the store (backends._grpc_snapshot rule 5)
    unused = {"structlog", "orjson", "confagent.cli._output", "uvloop", "confagent.kv._messages"}
    assert loaded & unused == set()
    # nor the daemon's parts, nor what only a diff, a mistake or the time needs
    assert loaded & {*DAEMON_PARTS, *ON_USE} == set()
    # nor Python's idna codec, which getaddrinfo loads for a host named in str (backends._grpc_snapshot)
    assert "encodings.idna" not in loaded


def test_a_one_shot_asks_for_its_snapshot_before_it_imports_jinja2(processes: Processes, etcd_server: str,
                                                                   tmp_path: Path) -> None:
    # the environment (Jinja2's import) is made while the store answers (agent._setup rule 6): a spy on the
    # snapshot's call, which then reads as it would
    argv = ["render", "--check", "--confdir", str(_confdir(tmp_path)), "--backend", "etcd", "--node",
            etcd_server, "--log-level", "warning"]
    code = ("import sys\nfrom confagent.backends import GrpcSnapshotBackend\n"
            "read = GrpcSnapshotBackend.snapshot\n"
            "async def snapshot(self, prefixes):\n"
            "    print('jinja2' in sys.modules)\n"
            "    return await read(self, prefixes)\n"
            "GrpcSnapshotBackend.snapshot = snapshot\n"
            f"from confagent.cli import main\nassert main({argv!r}) == 2")
    done = processes.run([sys.executable, "-c", code], cwd=ROOT, timeout_s=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().splitlines()[0] == "False"


STORE_INTERNALS = ("confagent.kv._messages", "confagent.kv._store", "confagent.auth",
                   "confagent.raft._rawnode", "confagent.server.node._auth", "confagent.server.node._node",
                   "sortedcontainers")
"""What a member is made of and a data directory's keys are not: the store's messages and index, the auth
state, the Raft machine, the member."""


def _confdir(tmp_path: Path) -> Path:
    """A conf.d with one resource rendering ``/imports/x`` (``none`` when absent) into ``t.conf``."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.tmpl").write_text("{{ getv('/imports/x', 'none') }}\n")
    (tmp_path / "conf.d" / "t.toml").write_text(
        f'[template]\nsrc = "t.tmpl"\ndest = "{tmp_path / "t.conf"}"\nkeys = ["/imports"]\n')
    return tmp_path


def test_a_one_shot_from_the_data_directory_loads_no_store_internals(processes: Processes,
                                                                     tmp_path: Path) -> None:
    # a stopped member's directory: its keys are read from the stop's snapshot (_data_dir_reader rule 6)
    data_dir = tmp_path / "store"
    load_or_keep_identity(data_dir, MEMBER)
    puts = [PutRequest(b"/imports/%04d" % i, b"v") for i in range(STOP_SNAPSHOT_ENTRIES)]
    asyncio.run(_write_then_stop(data_dir, [*puts, PutRequest(b"/imports/x", b"from the snapshot")]))
    argv = ["run", "--onetime", "--confdir", str(_confdir(tmp_path)), "--backend", "embedded",
            "--data-dir", str(data_dir), "--log-level", "warning"]
    loaded = modules_after(processes, f"from confagent.cli import main\nassert main({argv!r}) == 0")
    assert (tmp_path / "t.conf").read_text() == "from the snapshot\n"
    assert "confagent.server.node._data_dir_reader" in loaded
    # nothing logged at this level: no structlog (_one_shot_backend rule 7), nor the gRPC client's stack,
    # nor orjson (with uuid and platform) for the member's identity.json
    assert loaded & {*STORE_INTERNALS, "structlog", "hpack", "google.protobuf", "httpx", "orjson"} == set()


def test_a_one_shot_starting_a_member_logs_its_lines_set_up(processes: Processes, tmp_path: Path) -> None:
    # a directory holding no store yet: the pass starts a member (_one_shot_backend rules 6-7), whose
    # modules log through structlog's own loggers: in the set-up's format (JSON off a terminal), on stderr
    argv = ["run", "--onetime", "--confdir", str(_confdir(tmp_path)), "--backend", "embedded",
            "--data-dir", str(tmp_path / "new"), "--log-level", "info"]
    code = f"from confagent.cli import main\nassert main({argv!r}) == 0"
    done = processes.run([sys.executable, "-c", code], cwd=ROOT, timeout_s=60)
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "t.conf").read_text() == "none\n"
    assert done.stdout == b""
    events = {json.loads(line)["event"] for line in done.stderr.decode().splitlines()}
    assert events >= {"store started", "applied"}, events  # the member's lines and the pass's

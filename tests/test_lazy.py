"""``lazy_exports``: names load on first use, are kept, and unknown names fail as attributes do; what a
one-shot pass loads, by where it reads and what its resources run (``tests/agent/test_imports.py`` has
the rest)."""

from __future__ import annotations

from pathlib import Path

import pytest

import confagent.kv
from confagent.fsutil import stage_file
from confagent.lazy import lazy_exports
from confagent.testing import Processes
from tests.agent.test_imports import modules_after


def test_a_name_loads_from_its_module_and_is_kept() -> None:
    namespace: dict[str, object] = {}
    load, names = lazy_exports("confagent", namespace, {"stage_file": "fsutil"})
    assert load("stage_file") is stage_file
    assert namespace["stage_file"] is stage_file
    assert names() == ["stage_file"]


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    load, _ = lazy_exports("confagent.kv", {}, {})
    with pytest.raises(AttributeError, match=r"module 'confagent\.kv' has no attribute 'Nope'"):
        load("Nope")
    with pytest.raises(AttributeError):
        _ = confagent.kv.Nope  # type: ignore[attr-defined]


def test_dir_lists_lazy_names_before_they_load() -> None:
    assert {"KvStore", "WatchHub", "encode_request", "RangeRequest"} <= set(dir(confagent.kv))


def _one_shot_modules(processes: Processes, tmp_path: Path, resource: str, backend: list[str]) -> set[str]:
    """The modules a ``run --onetime`` process loaded, one resource rendering ``/lazy/x`` (``none`` when
    absent) into ``t.conf`` with ``resource``'s extra lines, read from ``backend``; the file checked."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.tmpl").write_text("{{ getv('/lazy/x', 'none') }}\n")
    (tmp_path / "conf.d" / "t.toml").write_text(
        f'[template]\nsrc = "t.tmpl"\ndest = "{tmp_path / "t.conf"}"\nkeys = ["/lazy"]\n{resource}')
    argv = ["run", "--onetime", "--confdir", str(tmp_path), *backend, "--log-level", "warning"]
    loaded = modules_after(processes, f"from confagent.cli import main\nassert main({argv!r}) == 0")
    assert (tmp_path / "t.conf").read_text() == "none\n"
    return loaded


GRPC_CLIENT = ("google.protobuf", "hpack", "confagent.wire._pb", "confagent.backends._grpc_calls",
               "confagent.backends._grpc_snapshot")
"""What a one-shot reading etcd over gRPC loads (``agent._one_shot_backend`` rule 5), and no other pass."""


def test_a_one_shot_through_etcds_gateway_loads_no_grpc_client(processes: Processes, etcd_server: str,
                                                                tmp_path: Path) -> None:
    # a reload_lock takes its slots through the etcd client (httpx, the JSON gateway): the snapshot with it
    resource = 'reload_cmd = "true"\nreload_lock = "lazy"\n'
    loaded = _one_shot_modules(processes, tmp_path, resource, ["--backend", "etcd", "--node", etcd_server])
    assert "confagent.client" in loaded
    assert loaded & {*GRPC_CLIENT, "confagent.server", "uvicorn"} == set()


@pytest.mark.parametrize(("resource", "runs_commands"),
                         [("", False), ('check_cmd = "test -s {{.src}}"\n', True)],
                         ids=["without commands", "with a check_cmd"])
def test_a_one_shot_loads_the_command_runner_only_for_a_command(processes: Processes, tmp_path: Path,
                                                                resource: str, runs_commands: bool) -> None:
    (tmp_path / "data.yaml").write_text("other: {y: 1}\n")
    loaded = _one_shot_modules(processes, tmp_path, resource, ["--backend", "file", "--file",
                                                               str(tmp_path / "data.yaml")])
    assert ("confagent.apply._commands" in loaded) is runs_commands
    assert loaded & set(GRPC_CLIENT) == set()


def test_the_command_runner_loads_as_a_name_of_apply(processes: Processes) -> None:
    loaded = modules_after(processes, "from confagent.apply import CommandResult")
    assert "confagent.apply._commands" in loaded

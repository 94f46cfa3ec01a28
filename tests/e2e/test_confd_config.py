"""``confagent run --onetime --config-file confd.toml``: confd's own configuration, against a real etcd.

A confd.toml as confd's users write it (confd's keys, confd's spellings, its
defaults and environment variables), nodes found through DNS SRV records on a
loopback DNS server, ``keepstagefile``, and the errors of a bad one.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from confagent.agent import STOP_TIMEOUT_S, Agent, ConfigSource
from confagent.client import ClientConfig, EtcdClient
from confagent.testing import Processes, free_port, until_async
from tests.agent.processes import text_of
from tests.agent.support import run
from tests.dns_server import LoopbackDns


@pytest.fixture
def prefix(etcd_server: str) -> str:
    """A prefix of the test's own on the session's etcd, with /database/url and /database/user under it."""
    prefix = f"/confd-{uuid.uuid4().hex[:8]}"

    async def body() -> None:
        async with EtcdClient(ClientConfig(endpoints=(etcd_server,))) as etcd:
            await etcd.put(f"{prefix}/database/url".encode(), b"db.example.com:5432")
            await etcd.put(f"{prefix}/database/user".encode(), b"rob")

    run(body)
    return prefix


def confdir(root: Path, prefix: str, check_cmd: str | None = None) -> tuple[Path, Path]:
    """A confd confdir with one resource rendering ``out/app.conf`` (not yet there); (confdir, dest)."""
    (root / "confd" / "conf.d").mkdir(parents=True)
    (root / "confd" / "templates").mkdir()
    (root / "out").mkdir()
    dest = root / "out" / "app.conf"
    check = f'check_cmd = "{check_cmd}"\n' if check_cmd else ""
    (root / "confd" / "conf.d" / "app.toml").write_text(
        f'[template]\nprefix = "{prefix}"\nsrc = "app.tmpl"\ndest = "{dest}"\nkeys = ["/database"]\n'
        f'mode = "0640"\n{check}')
    (root / "confd" / "templates" / "app.tmpl").write_text(
        'url = {{ getv("/database/url") }}\nuser = {{ getv("/database/user") }}\n')
    return root / "confd", dest


RENDERED = "url = db.example.com:5432\nuser = rob\n"


def test_a_confd_toml_as_confd_users_write_it(tmp_path: Path, prefix: str, etcd_server: str,
                                              processes: Processes) -> None:
    confd, dest = confdir(tmp_path, prefix)
    host_port = urlsplit(etcd_server).netloc
    config = tmp_path / "confd.toml"
    config.write_text(f'backend = "etcdv3"\nnodes = ["{host_port}"]\nconfdir = "{confd}"\ninterval = 60\n'
                      f'log-level = "debug"\nsync-only = false\nclient_insecure = false\n')
    done = processes.confagent("run", "--onetime", "--config-file", str(config))
    assert (done.returncode, text_of(dest)) == (0, RENDERED), done.stderr
    assert dest.stat().st_mode & 0o777 == 0o640


def test_confds_default_backend_reads_etcdctl_peers(tmp_path: Path, prefix: str, etcd_server: str,
                                                    processes: Processes) -> None:
    confd, dest = confdir(tmp_path, prefix)
    config = tmp_path / "confd.toml"
    config.write_text(f'confdir = "{confd}"\nOneTime = true\n')
    done = processes.confagent("run", "--config-file", str(config), env={"ETCDCTL_PEERS": etcd_server})
    assert (done.returncode, text_of(dest)) == (0, RENDERED), done.stderr


def test_keepstagefile_keeps_what_a_failed_check_refused(tmp_path: Path, prefix: str, etcd_server: str,
                                                         processes: Processes) -> None:
    confd, dest = confdir(tmp_path, prefix, check_cmd="grep -q nothing-like-this {{.src}}")
    dest.write_text("old\n")
    config = tmp_path / "confd.toml"
    config.write_text(f'backend = "etcd"\nnodes = ["{etcd_server}"]\nconfdir = "{confd}"\n')
    done = processes.confagent("run", "--onetime", "--config-file", str(config))
    assert (done.returncode, text_of(dest), sorted(p.name for p in dest.parent.iterdir())) == (
        1, "old\n", ["app.conf"]), done.stderr
    config.write_text(config.read_text() + "keepstagefile = true\n")
    done = processes.confagent("run", "--onetime", "--config-file", str(config))
    kept = [path for path in dest.parent.iterdir() if path.name.startswith(".app.conf.")]
    assert (done.returncode, text_of(dest), len(kept)) == (1, "old\n", 1), done.stderr
    assert kept[0].read_text() == RENDERED and str(kept[0]) in done.stderr


def test_errors_of_a_bad_confd_toml_name_file_line_and_key(tmp_path: Path, processes: Processes) -> None:
    config = tmp_path / "confd.toml"
    cases = (('backend = "etcd"\nkeep_stage_file = true\n',
              f"{config}:2: keep_stage_file: not one of confd's keys; did you mean 'keepstagefile'?"),
             ('backend = "consul"\n', f"{config}:1: backend: confd's consul backend, which confagent"),
             ('\nauth_type = "token"\n', f"{config}:2: auth_type: confd's key for vault's sign-in"))
    for text, words in cases:
        config.write_text(text)
        done = processes.confagent("run", "--onetime", "--config-file", str(config))
        assert done.returncode == 1 and words in done.stderr, (text, done.stderr)


@pytest.fixture
def dns_server(etcd_server: str) -> Iterator[LoopbackDns]:
    """SRV records naming the session's etcd, as ``_etcd._tcp.example.test.`` and another name."""
    port = urlsplit(etcd_server).port
    server = LoopbackDns({"_etcd._tcp.example.test.": [f"0 10 {port} 127.0.0.1."],
                          "_configs._tcp.example.test.": [f"10 0 {free_port()} localhost.",
                                                          f"0 0 {port} 127.0.0.1."]})
    yield server
    server.close()


def test_nodes_found_in_srv_records(tmp_path: Path, prefix: str, dns_server: LoopbackDns,
                                    processes: Processes) -> None:
    confd, dest = confdir(tmp_path, prefix)
    config = tmp_path / "confd.toml"
    for text in ('srv_domain = "example.test"\nscheme = "http"\n',
                 'srv_domain = "elsewhere.test"\nsrv_record = "_configs._tcp.example.test."\n'):
        dest.unlink(missing_ok=True)
        config.write_text(f'backend = "etcd"\nconfdir = "{confd}"\n{text}')
        done = processes.confagent("run", "--onetime", "--config-file", str(config),
                                   "--srv-nameserver", dns_server.nameserver)
        assert (done.returncode, text_of(dest)) == (0, RENDERED), (text, done.stderr)


def test_an_srv_record_that_does_not_resolve_is_named(tmp_path: Path, prefix: str, dns_server: LoopbackDns,
                                                      processes: Processes) -> None:
    confd, dest = confdir(tmp_path, prefix)
    done = processes.confagent("run", "--onetime", "--backend", "etcdv3", "--confdir", str(confd),
                               "--srv-domain", "nowhere.test", "--srv-nameserver", dns_server.nameserver)
    assert done.returncode == 1 and not dest.exists(), done.stderr
    words = "cannot get the etcdv3 backend's nodes from SRV record _etcdv3._tcp.nowhere.test.: no such host"
    assert words in done.stderr, done.stderr


def test_the_daemon_follows_etcd_at_the_nodes_srv_records_name(tmp_path: Path, prefix: str, etcd_server: str,
                                                               dns_server: LoopbackDns) -> None:
    confd, dest = confdir(tmp_path, prefix)
    config = tmp_path / "confd.toml"
    config.write_text(f'confdir = "{confd}"\nsrv_domain = "example.test"\nwatch = true\n')
    state = {"store.data_dir": tmp_path / "state"}  # not the machine's /var/lib/confagent
    agent = Agent(ConfigSource(config, {"srv_nameserver": dns_server.nameserver, **state}), out=io.StringIO())

    async def body() -> None:
        running = asyncio.create_task(agent.run())
        try:
            await until_async(lambda: text_of(dest) == RENDERED, "the first render")
            async with EtcdClient(ClientConfig(endpoints=(etcd_server,))) as etcd:
                await etcd.put(f"{prefix}/database/user".encode(), b"ann")
            changed = RENDERED.replace("rob", "ann")
            await until_async(lambda: text_of(dest) == changed, "the render of the put")
        finally:
            agent.stop()
            await asyncio.wait_for(running, timeout=STOP_TIMEOUT_S + 5)  # cancelled past it

    asyncio.run(body())

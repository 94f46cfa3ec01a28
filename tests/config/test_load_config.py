"""load_config: default < confagent.toml < command line; every error names its file (or flag) and key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from confagent.config import (
    COMMAND_LINE,
    DEFAULT_CONFDIR,
    DEFAULT_DATA_DIR,
    DEFAULT_ETCD_NODES,
    AgentConfig,
    flag_name,
    load_config,
)
from confagent.errors import ConfigError
from confagent.resource import Wait


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "confagent.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    config = load_config(None, {})
    assert config == AgentConfig()
    assert (config.backend.backend, config.run.confdir) == ("embedded", DEFAULT_CONFDIR)
    assert config.run.watch
    assert (config.run.interval_s, config.run.prefix, config.log.level) == (600.0, "/", "info")
    assert config.backend.endpoints == DEFAULT_ETCD_NODES
    assert config.listener.address is None


def test_every_key_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    for name in ("c.pem", "k.pem", "ca.pem"):
        (tmp_path / "certs" / name).write_text("x")
    path = write(tmp_path, """
backend = "etcdv3"
nodes = ["10.0.0.1:2379", "https://10.0.0.2:2379/"]
prefix = "production"
confdir = "conf"
interval = "1m"
watch = false
onetime = true
noop = true
sync_only = true
log_level = "WARN"
log_format = "json"
client_cert = "certs/c.pem"
client_key = "certs/k.pem"
client_cakeys = "certs/ca.pem"
wait = "1s:4s"
[store]
data_dir = "/var/lib/confagent"
listen_client_urls = ["http://127.0.0.1:2379"]
[agent]
listen = "127.0.0.1:9271"
""")
    config = load_config(path, {})
    assert config.file == path
    assert config.backend.backend == "etcd"  # confd's other name for it
    assert config.backend.nodes == ("http://10.0.0.1:2379", "https://10.0.0.2:2379")
    assert config.backend.client_cert == tmp_path / "certs" / "c.pem"  # relative to the file
    assert config.run.prefix == "/production"
    assert config.run.confdir == tmp_path / "conf"
    assert (config.run.interval_s, config.run.watch, config.run.onetime) == (60.0, False, True)
    assert (config.run.noop, config.run.sync_only, config.run.wait) == (True, True, Wait(1.0, 4.0))
    assert (config.log.level, config.log.format) == ("warning", "json")
    assert config.store.data_dir == Path("/var/lib/confagent")
    assert config.store.listen_client_urls == ("http://127.0.0.1:2379",)
    assert config.listener.address == ("127.0.0.1", 9271)


# (key, file value, flag value, default, how the loaded value reads)
PRECEDENCE = [
    ("backend", '"env"', "etcd", "embedded", lambda c: c.backend.backend),
    ("log_level", '"debug"', "error", "info", lambda c: c.log.level),
    ("interval", "30", 5, 600.0, lambda c: c.run.interval_s),
    ("prefix", '"/file"', "/flag", "/", lambda c: c.run.prefix),
    ("onetime", "true", False, False, lambda c: c.run.onetime),  # a flag may say the default
    ("watch", "false", True, True, lambda c: c.run.watch),
    ("noop", "true", False, False, lambda c: c.run.noop),
    ("sync_only", "true", False, False, lambda c: c.run.sync_only),
    ("keep_stage_file", "true", False, False, lambda c: c.run.keep_stage_file),
    ("store.data_dir", None, Path("/flag/data"), DEFAULT_DATA_DIR, lambda c: c.store.data_dir),
    ("agent.listen", None, "127.0.0.1:1", None, lambda c: c.listener.listen),
]


@pytest.mark.parametrize(("key", "in_file", "flag", "default", "read"), PRECEDENCE,
                         ids=[p[0] for p in PRECEDENCE])
def test_flag_beats_file_beats_default(tmp_path: Path, key: str, in_file: str | None, flag: object,
                                       default: object, read: Callable[[AgentConfig], object]) -> None:
    assert read(load_config(None, {})) == default
    section, _, name = key.rpartition(".")
    if in_file is not None:
        path = write(tmp_path, f"[{section}]\n{name} = {in_file}\n" if section else f"{name} = {in_file}\n")
        from_file = read(load_config(path, {}))
        assert from_file != default
        assert read(load_config(path, {key: None})) == from_file  # None: flag not given
    else:
        path = write(tmp_path, "")
    assert read(load_config(path, {key: flag})) == flag


def test_nodes_from_flags_replace_the_files(tmp_path: Path) -> None:
    path = write(tmp_path, 'backend = "etcd"\nnodes = ["http://a:1"]\n')
    config = load_config(path, {"nodes": ["http://b:2", "c:3,d:4"]})
    assert config.backend.nodes == ("http://b:2", "http://c:3", "http://d:4")


def test_paths_on_the_command_line_are_relative_to_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {"confdir": "here", "store.data_dir": Path("data")})
    assert (config.run.confdir, config.store.data_dir) == (tmp_path / "here", tmp_path / "data")


def test_missing_file(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.toml", {}, missing_ok=True).file is None
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.toml", {})
    assert caught.value.file == str(tmp_path / "absent.toml")


def test_flag_names_are_confds_with_two_dashes() -> None:
    keys = ("nodes", "log_level", "sync_only", "client_cakeys", "confdir", "store.data_dir")
    assert [flag_name(key) for key in keys] == [
        "--node", "--log-level", "--sync-only", "--client-ca-keys", "--confdir", "--store-data-dir"]


# (file text, the key the error must name, a piece of the message)
FILE_ERRORS = [
    ("backend = ", None, "not valid TOML"),
    ("backend = 'consul'", "backend", "'consul' is not one of embedded, etcd, file, env"),
    ("log-level = 'debug'", "log-level", "did you mean 'log_level'"),
    ("node = ['http://a:1']", "node", "did you mean 'nodes'"),
    ("keepstagefile = true", "keepstagefile", "unknown key"),
    ("interval = 0", "interval", "more than 0 s"),
    ("interval = 'soon'", "interval", "not a duration"),
    ("watch = 'yes'", "watch", "true or false"),
    ("log_level = 'loud'", "log_level", "'loud' is not one of"),
    ("log_format = 'xml'", "log_format", "'xml' is not one of auto, console, json"),
    ("prefix = '/a/../b'", "prefix", "'..'"),
    ("wait = '9s:1s'", "wait", "more than max"),
    ("backend = 'etcd'\nnodes = ['ftp://x:1']", "nodes", "is not http(s)://HOST:PORT"),
    ("nodes = ['http://x:1']", "nodes", "only used by the etcd backend"),
    ("backend = 'etcd'\nclient_key = 'confagent.toml'", "client_key", "needs client_cert"),
    ("backend = 'etcd'\nclient_cert = 'absent.pem'\nclient_key = 'confagent.toml'", "client_cert",
     "does not exist"),
    ("backend = 'file'", "file", "required by the file backend"),
    ("backend = 'file'\nfile = ['absent.yaml']", "file", "does not exist"),
    ("store = 1", "store", "must be a table"),
    ("[store]\ndatadir = 'x'", "store.datadir", "did you mean 'data_dir'"),
    ("[store]\nheartbeat_interval = 100", "store.heartbeat_interval", "unknown key"),
    ("[store]\nsnapshot_count = 0", "store.snapshot_count", "must be at least 1"),
    ("[store]\nlisten_client_urls = ['127.0.0.1']", "store.listen_client_urls", "HOST:PORT"),
    ("[agent]\nlisten = '127.0.0.1'", "agent.listen", "is not HOST:PORT"),
    ("[agent]\nport = 1", "agent.port", "unknown key"),
]


@pytest.mark.parametrize(("text", "key", "message"), FILE_ERRORS, ids=[f"{e[1]}:{e[2]}" for e in FILE_ERRORS])
def test_file_errors_name_file_and_key(tmp_path: Path, text: str, key: str | None, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert (caught.value.file, caught.value.key) == (str(path), key)
    assert message in caught.value.message


# (overrides, the flag the error must name, a piece of the message)
FLAG_ERRORS = [
    ({"interval": "soon"}, "--interval", "not a duration"),
    ({"backend": "vault"}, "--backend", "is not one of"),
    ({"log_level": "loud"}, "--log-level", "is not one of"),
    ({"nodes": ["http://a:1"]}, "--node", "only used by the etcd backend"),
    ({"backend": "etcd", "nodes": ["ftp://a"]}, "--node", "http(s)"),
    ({"backend": "etcd", "client_cert": "/nonexistent/c.pem", "client_key": "/nonexistent/k.pem"},
     "--client-cert", "does not exist"),
    ({"store.listen_client_urls": "x"}, "--store-listen-client-urls", "HOST:PORT"),
    ({"agent.listen": "nowhere"}, "--listen", "HOST:PORT"),
    ({"bogus": 1}, "--bogus", "unknown key"),
]


@pytest.mark.parametrize(("overrides", "flag", "message"), FLAG_ERRORS, ids=[e[1] for e in FLAG_ERRORS])
def test_flag_errors_name_the_flag(overrides: dict[str, object], flag: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, overrides)
    assert (caught.value.file, caught.value.key) == (COMMAND_LINE, flag)
    assert message in caught.value.message
    assert str(caught.value).startswith(f"command line: {flag}: ")


def test_a_cross_field_error_names_where_the_culprit_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, "backend = 'etcd'\nnodes = ['http://a:1']\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"backend": "embedded"})  # the flag makes the file's nodes pointless
    assert (caught.value.file, caught.value.key) == (str(path), "nodes")


def test_backend_config_for_open_backend(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text("a: 1\n")
    path = write(tmp_path, 'backend = "file"\nfile = ["keys.yaml"]\nfilter = "*.yaml"\n'
                           '[store]\ndata_dir = "data"\nlisten_client_urls = ["http://127.0.0.1:23790"]\n')
    options = load_config(path, {}).backend_config()
    assert (options.backend, options.file_filter) == ("file", "*.yaml")
    assert options.files == (tmp_path / "keys.yaml",)
    assert (options.store.data_dir, options.store.listen_client_urls) == (tmp_path / "data",
                                                                          ("http://127.0.0.1:23790",))
    options.validate()
    etcd = load_config(None, {"backend": "etcd"}).backend_config()
    assert (etcd.backend, etcd.nodes, etcd.client_cert) == ("etcd", DEFAULT_ETCD_NODES, None)
    etcd.validate()
    embedded = load_config(None, {}).backend_config()
    assert (embedded.backend, embedded.store.data_dir) == ("embedded", DEFAULT_DATA_DIR)

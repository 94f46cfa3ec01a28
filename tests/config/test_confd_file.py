"""A confd.toml given to --config-file: confd's keys and defaults, the environment confd reads, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.config import (
    COMMAND_LINE,
    CONFD_FILE_NAME,
    CONFD_KEYS,
    NOT_SERVED,
    AgentConfig,
    _load,
    is_confd_file,
    load_config,
)
from confagent.errors import ConfigError
from confagent.resource import Wait


def confd_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "confd.toml"
    path.write_text(text)
    return path


def load(path: Path, overrides: dict[str, object] | None = None,
         environ: dict[str, str] | None = None) -> AgentConfig:
    return load_config(path, overrides or {}, environ=environ or {})


def test_every_confd_key(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for name in ("c.pem", "k.pem", "ca.pem"):
        (tmp_path / name).write_text("x")
    path = confd_toml(tmp_path, """
backend = "etcdv3"
nodes = ["10.0.0.1:2379", "http://10.0.0.2:2379"]
confdir = "/srv/confd"
interval = 30
watch = true
onetime = true
noop = true
sync-only = true
keepstagefile = true
prefix = "/production"
log-level = "warn"
srv_record = "_etcd._tcp.example.com."
scheme = "https"
client_cert = "c.pem"
client_key = "k.pem"
client_cakeys = "ca.pem"
client_insecure = true
basic_auth = true
username = "root"
password = "secret"
""")
    config = load(path)
    assert config.file == path
    assert (config.backend.backend, config.discovery.backend_name) == ("etcd", "etcdv3")
    assert config.backend.nodes == ("http://10.0.0.1:2379", "http://10.0.0.2:2379")
    run = config.run
    assert (run.confdir, run.interval_s, run.watch, run.onetime) == (Path("/srv/confd"), 30.0, True, True)
    assert (run.noop, run.sync_only, run.keep_stage_file, run.prefix) == (True, True, True, "/production")
    assert config.log.level == "warning"
    assert (config.discovery.record, config.discovery.scheme) == ("_etcd._tcp.example.com.", "https")
    assert (config.backend.client_cert, config.backend.client_key, config.backend.client_cakeys) == (
        tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem")
    assert (config.backend.basic_auth, config.backend.username, config.backend.password) == (
        True, "root", "secret")


def test_the_file_backends_keys(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text("a: 1\n")
    config = load(confd_toml(tmp_path, 'backend = "file"\nfile = ["data.yaml"]\nfilter = "*.yaml"\n'))
    assert (config.backend.files, config.backend.file_filter) == ((tmp_path / "data.yaml",), "*.yaml")


def test_keys_match_case_insensitively_as_confds_decoder_does(tmp_path: Path) -> None:
    config = load(confd_toml(tmp_path, 'OneTime = true\nKeepStageFile = true\nLOG-LEVEL = "debug"\n'
                                       'Backend = "env"\nSRV_DOMAIN = "example.com"\n'))
    assert (config.run.onetime, config.run.keep_stage_file, config.log.level) == (True, True, "debug")
    assert config.backend.backend == "env" and config.discovery.srv_domain == "example.com"


def test_confds_defaults_where_confagents_differ(tmp_path: Path) -> None:
    config = load(confd_toml(tmp_path, "# nothing set\n"))
    assert (config.backend.backend, config.run.confdir) == ("etcd", Path("/etc/confd"))
    assert config.backend_config().nodes == ("http://127.0.0.1:2379",)  # confd's 4001 is etcd v2's
    assert load_config(None, {}, environ={}).backend.backend == "embedded"  # a confagent.toml's default


def test_a_flag_beats_the_confd_file(tmp_path: Path) -> None:
    path = confd_toml(tmp_path, 'backend = "env"\nlog-level = "debug"\nkeepstagefile = false\n')
    config = load(path, {"backend": "etcd", "log_level": "error", "keep_stage_file": True,
                         "confdir": str(tmp_path)})
    assert (config.backend.backend, config.log.level, config.run.keep_stage_file) == ("etcd", "error", True)
    assert config.run.confdir == tmp_path


def test_only_a_file_named_confd_toml_is_confds(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text("keepstagefile = true\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load(path)


def test_an_empty_not_served_key_is_taken(tmp_path: Path) -> None:
    config = load(confd_toml(tmp_path, 'auth_type = ""\ntable = ""\nsecret_keyring = ""\nbackend = "env"\n'))
    assert config.backend.backend == "env"


# (file text, the file's line named, the key named, a piece of the message)
ERRORS = [
    ('backend = "env"\nauth_type = "token"\n', 2, "auth_type",
     "confd's key for vault's sign-in, which confagent does not serve"),
    ('\n\ntable = "confd"\n', 3, "table", "the dynamodb backend, which confagent does not serve"),
    ('backend = "consul"\n', 1, "backend", "confd's consul backend, which confagent does not serve"),
    ('Backend = "vault"\n', 1, "Backend", "confd's vault backend"),
    ("onetime = true\nkeep_stage_file = true\n", 2, "keep_stage_file", "did you mean 'keepstagefile'?"),
    ('log_level = "debug"\n', 1, "log_level", "did you mean 'log-level'?"),
    ("sync_only = true\n", 1, "sync_only", "did you mean 'sync-only'?"),
    ("nodse = []\n", 1, "nodse", "did you mean 'nodes'?"),
    ('wait = "1s:2s"\n', 1, "wait", "confagent's key, not confd's"),
    ('backend = "env"\n\n[store]\ndata_dir = "x"\n', 3, "store", "confagent's key, not confd's"),
    ("zzz = 1\n", 1, "zzz", "not one of confd's keys (app_id, auth_token, auth_type, backend, basic_auth"),
    ('\ninterval = "soon"\n', 2, "interval", "'soon'"),
    ('keepstagefile = "yes"\n', 1, "keepstagefile", "must be true or false"),
    ('backend = "env"\nLog-Level = "loud"\n', 2, "Log-Level", "'loud' is not one of debug, info"),
    ("onetime = true\nOneTime = false\n", 2, "OneTime", "written twice (as 'onetime' too)"),
    ('scheme = "ftp"\n', 1, "scheme", "'ftp' is not one of http, https"),
    ('backend = "file"\nsrv_domain = "example.com"\nfile = ["/"]\n', 2, "srv_domain",
     "the file backend reads no nodes"),
    ('client_key = "k.pem"\n', 1, "client_key", "no such file"),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), ERRORS, ids=[e[2] + str(e[1]) for e in ERRORS])
def test_errors_name_the_file_its_line_and_the_key(tmp_path: Path, text: str, line: int, key: str,
                                                   message: str) -> None:
    path = confd_toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.file, caught.value.key) == (f"{path}:{line}", key)
    assert message in caught.value.message


def test_every_not_served_key_is_one_of_confds() -> None:
    assert not NOT_SERVED.keys() & CONFD_KEYS.keys()
    assert "keepstagefile" in CONFD_KEYS and CONFD_KEYS["sync-only"] == "sync_only"


def test_client_tls_from_confds_environment_only_when_left_empty(tmp_path: Path) -> None:
    for name in ("env.pem", "env.key", "env-ca.pem", "file.pem", "file.key"):
        (tmp_path / name).write_text("x")
    environ = {"CONFD_CLIENT_CERT": str(tmp_path / "env.pem"), "CONFD_CLIENT_KEY": str(tmp_path / "env.key"),
               "CONFD_CLIENT_CAKEYS": str(tmp_path / "env-ca.pem")}
    config = load(confd_toml(tmp_path, ""), environ=environ)
    assert (config.backend.client_cert, config.backend.client_key, config.backend.client_cakeys) == (
        tmp_path / "env.pem", tmp_path / "env.key", tmp_path / "env-ca.pem")
    path = confd_toml(tmp_path, 'client_cert = "file.pem"\nclient_key = "file.key"\n')
    config = load(path, environ=environ)
    assert (config.backend.client_cert, config.backend.client_key, config.backend.client_cakeys) == (
        tmp_path / "file.pem", tmp_path / "file.key", tmp_path / "env-ca.pem")


def test_confds_environment_is_read_for_the_etcd_backend_only(tmp_path: Path) -> None:
    environ = {"CONFD_CLIENT_CERT": "/nonexistent.pem", "ETCDCTL_PEERS": "http://10.0.0.9:2379"}
    config = load(confd_toml(tmp_path, 'backend = "env"\n'), environ=environ)
    assert (config.backend.client_cert, config.backend.nodes) == (None, ())


def test_etcdctl_peers_are_the_default_etcd_nodes(tmp_path: Path) -> None:
    environ = {"ETCDCTL_PEERS": "http://10.0.0.1:2379,10.0.0.2:2379"}
    assert load(confd_toml(tmp_path, ""), environ=environ).backend.nodes == (
        "http://10.0.0.1:2379", "http://10.0.0.2:2379")
    assert load_config(None, {"backend": "etcd"}, environ=environ).backend.nodes == (
        "http://10.0.0.1:2379", "http://10.0.0.2:2379")
    assert load(confd_toml(tmp_path, 'nodes = ["a:1"]\n'), environ=environ).backend.nodes == ("http://a:1",)
    assert load(confd_toml(tmp_path, ""), {"nodes": ["b:2"]}, environ=environ).backend.nodes == ("http://b:2",)
    srv = load(confd_toml(tmp_path, 'srv_domain = "example.com"\n'), environ=environ)
    assert srv.backend.nodes == ()  # the SRV record's nodes replace them


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(confd_toml(tmp_path, ""), environ={"CONFD_CLIENT_CAKEYS": str(tmp_path / "absent.pem")})
    assert (caught.value.file, caught.value.key) == ("environment", "$CONFD_CLIENT_CAKEYS")


# (backend written, domain, record, the record read)
RECORDS = [
    ("etcd", "example.com", None, "_etcd._tcp.example.com."),
    ("etcdv3", "example.com.", None, "_etcdv3._tcp.example.com."),
    ("etcd", "example.com", "_custom._tcp.example.org.", "_custom._tcp.example.org."),
    ("etcd", None, None, None),
]


@pytest.mark.parametrize(("backend", "domain", "record", "read"), RECORDS)
def test_the_srv_record_is_confds(tmp_path: Path, backend: str, domain: str | None, record: str | None,
                                  read: str | None) -> None:
    lines = [f'backend = "{backend}"'] + [f'{key} = "{value}"' for key, value in
                                           (("srv_domain", domain), ("srv_record", record)) if value]
    assert load(confd_toml(tmp_path, "\n".join(lines) + "\n")).discovery.record == read


def test_srv_flags_over_a_confagent_toml(tmp_path: Path) -> None:
    config = load_config(None, {"backend": "etcdv3", "srv_domain": "example.com", "scheme": "https",
                                "srv_nameserver": "127.0.0.1:8600"}, environ={})
    assert (config.discovery.record, config.discovery.nameserver) == (
        "_etcdv3._tcp.example.com.", ("127.0.0.1", 8600))
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"srv_domain": "example.com"}, environ={})
    assert (caught.value.file, caught.value.key) == (COMMAND_LINE, "--srv-domain")
    assert "the embedded backend reads no nodes" in caught.value.message


def test_a_confagent_toml_keeps_its_own_keys(tmp_path: Path) -> None:
    path = tmp_path / "confagent.toml"
    path.write_text('backend = "etcd"\nkeep_stage_file = true\nwait = "1s:2s"\nsrv_domain = "example.com"\n')
    config = load(path)
    assert (config.run.keep_stage_file, config.run.wait) == (True, Wait(1.0, 2.0))
    assert config.discovery.record == "_etcd._tcp.example.com."


def test_one_name_makes_a_confd_file() -> None:
    assert is_confd_file(Path("/etc/confd/confd.toml")) and not is_confd_file(Path("confagent.toml"))
    assert _load._CONFD_FILE_NAME == CONFD_FILE_NAME  # _load does not import the confd reader for its name


def test_a_confagent_toml_hints_at_confds_spellings(tmp_path: Path) -> None:
    path = tmp_path / "confagent.toml"
    path.write_text("keepstagefile = true\n")
    with pytest.raises(ConfigError, match="keepstagefile: unknown key; did you mean 'keep_stage_file'"):
        load(path)


NAMESERVERS = [("127.0.0.1", ("127.0.0.1", 53)), ("10.0.0.2:8600", ("10.0.0.2", 8600)), ("::1", ("::1", 53)),
               ("[::1]:5353", ("::1", 5353))]


@pytest.mark.parametrize(("given", "read"), NAMESERVERS)
def test_srv_nameserver_is_an_ip_address_and_a_port(given: str, read: tuple[str, int]) -> None:
    overrides = {"backend": "etcd", "srv_domain": "example.com", "srv_nameserver": given}
    assert load_config(None, overrides, environ={}).discovery.nameserver == read


@pytest.mark.parametrize("given", ["dns.example.com:53", "127.0.0.1:0", "127.0.0.1:x"])
def test_a_bad_srv_nameserver_names_the_flag(given: str) -> None:
    overrides = {"backend": "etcd", "srv_domain": "example.com", "srv_nameserver": given}
    with pytest.raises(ConfigError) as caught:
        load_config(None, overrides, environ={})
    assert (caught.value.key, caught.value.message) == (
        "--srv-nameserver", f"{given!r} is not an IP address with an optional :PORT")


def test_confds_client_key_variable_is_the_redis_password_as_in_confd(tmp_path: Path) -> None:
    environ = {"CONFD_CLIENT_KEY": "s3cret", "ETCDCTL_PEERS": "http://10.0.0.9:2379"}
    config = load(confd_toml(tmp_path, 'backend = "redis"\nnodes = ["127.0.0.1:6379"]\n'), environ=environ)
    assert getattr(config.backend.client_key, "given", None) == "s3cret"
    assert not any("10.0.0.9" in node for node in config.backend.nodes)  # ETCDCTL_PEERS is etcd's alone

"""``[store]``: etcd's member settings from the file and ``--store-*`` flags, to the store's StoreConfig.

Every error names the key (``store.initial_cluster``) or the flag (``--store-initial-cluster``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from confagent.cli import build_parser
from confagent.cli._run_cmd import config_source
from confagent.cli._settings_flags import settings_from_flags
from confagent.config import COMMAND_LINE, load_config
from confagent.errors import ConfigError
from confagent.server._bootstrap import initial_members_of, node_config_of
from confagent.settings import StoreConfig, declared

CLUSTER = "n1=http://127.0.0.1:1380,n2=http://127.0.0.1:2380,n3=http://127.0.0.1:3380"
MEMBER_TOML = f"""
[store]
data_dir = "data"
name = "n2"
listen_client_urls = ["http://127.0.0.1:2379"]
advertise_client_urls = ["http://127.0.0.1:2379"]
listen_peer_urls = ["http://127.0.0.1:2380"]
initial_advertise_peer_urls = ["http://127.0.0.1:2380"]
initial_cluster = "{CLUSTER}"
initial_cluster_state = "new"
initial_cluster_token = "tok"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "confagent.toml"
    path.write_text(text)
    return path


def test_every_store_key_reaches_the_store_config(tmp_path: Path) -> None:
    store = load_config(write(tmp_path, MEMBER_TOML), {}).store
    assert store == StoreConfig(
        data_dir=tmp_path / "data", name="n2", listen_client_urls=("http://127.0.0.1:2379",),
        advertise_client_urls=("http://127.0.0.1:2379",), listen_peer_urls=("http://127.0.0.1:2380",),
        initial_advertise_peer_urls=("http://127.0.0.1:2380",), initial_cluster=CLUSTER,
        initial_cluster_state="new", initial_cluster_token="tok")
    config = load_config(write(tmp_path, MEMBER_TOML), {}).backend_config().store
    config.validate()
    assert (config.name, config.initial_cluster, config.initial_cluster_token) == ("n2", CLUSTER, "tok")
    assert [member.name for member in initial_members_of(config)] == ["n1", "n2", "n3"]
    assert node_config_of(config).listen_peer_url == "http://127.0.0.1:2380"


def test_initial_cluster_may_be_an_array(tmp_path: Path) -> None:
    items = ", ".join(f'"{item}"' for item in CLUSTER.split(","))
    text = MEMBER_TOML.replace(f'initial_cluster = "{CLUSTER}"', f"initial_cluster = [{items}]")
    assert load_config(write(tmp_path, text), {}).store.initial_cluster == CLUSTER


def test_a_lone_member_listens_for_no_peer(tmp_path: Path) -> None:
    """Two agents on one host must not both want port 2380; the member ID derives as before."""
    config = load_config(None, {"store.data_dir": tmp_path}).store
    assert node_config_of(config).listen_peer_url == ""
    assert config.peer_urls == ("http://127.0.0.1:2380",)


def test_store_flags_win_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, MEMBER_TOML)
    args = build_parser().parse_args([
        "run", "--config-file", str(path), "--store-name", "n1", "--store-listen-peer-urls",
        "http://127.0.0.1:1380", "--store-initial-advertise-peer-urls", "http://127.0.0.1:1380",
        "--store-listen-client-urls", "http://127.0.0.1:1379,http://127.0.0.1:1381",
        "--store-initial-cluster-state", "existing", "--store-initial-cluster-token", "other",
        "--store-advertise-client-urls", "http://127.0.0.1:1379", "--data-dir", "elsewhere",
        "--store-initial-cluster", CLUSTER])
    store = config_source(args).load().store
    assert (store.name, store.listen_peer_urls, store.initial_cluster_state) == (
        "n1", ("http://127.0.0.1:1380",), "existing")
    assert store.listen_client_urls == ("http://127.0.0.1:1379", "http://127.0.0.1:1381")
    assert (store.initial_cluster_token, store.data_dir) == ("other", Path.cwd() / "elsewhere")


# ([store] lines, the key the error must name, a piece of the message)
STORE_ERRORS = [
    ('initial_cluster = "n1"', "store.initial_cluster", "is not NAME=http://HOST:PORT"),
    ('initial_cluster = "n1=ftp://h:1"', "store.initial_cluster", "is not NAME=http://HOST:PORT"),
    ('initial_cluster = "n1=http://127.0.0.1:1"\nlisten_peer_urls = ["http://127.0.0.1:1"]',
     "store.name", "'default' is not a member of initial_cluster (n1)"),
    ('name = "n1"\ninitial_cluster = "n1=http://127.0.0.1:1"', "store.listen_peer_urls", "is required"),
    ('name = "n1"\ninitial_cluster = "n1=http://127.0.0.1:1"\nlisten_peer_urls = ["http://127.0.0.1:2"]',
     "store.listen_peer_urls", "is not what initial_cluster gives n1"),
    ('name = "n1"\ninitial_cluster = "n1=http://127.0.0.1:1"\nlisten_peer_urls = ["http://127.0.0.1:1"]\n'
     'initial_advertise_peer_urls = ["http://127.0.0.1:3"]', "store.initial_advertise_peer_urls",
     "is not what initial_cluster gives n1"),
    ('initial_cluster_state = "old"', "store.initial_cluster_state", "'old' is not one of"),
    ('initial_cluster_state = "existing"', "store.initial_cluster", "is required to join"),
    ('listen_peer_urls = ["127.0.0.1"]', "store.listen_peer_urls", "is not http(s)://HOST:PORT"),
    ('listen_peer_urls = ["https://127.0.0.1:1"]', "store.listen_peer_urls", "peer TLS"),
    ('advertise_client_urls = ["http://h"]', "store.advertise_client_urls", "HOST:PORT"),
    ('name = ""', "store.name", "must not be empty"),
    ('initial_cluster = 3', "store.initial_cluster", "must be an array of strings"),
    ('initial-cluster = "a=http://h:1"', "store.initial-cluster", "did you mean 'initial_cluster'"),
]


@pytest.mark.parametrize(("lines", "key", "message"), STORE_ERRORS,
                         ids=[f"{e[1]}:{e[2]}" for e in STORE_ERRORS])
def test_store_errors_name_the_key(tmp_path: Path, lines: str, key: str, message: str) -> None:
    path = write(tmp_path, f"[store]\n{lines}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert (caught.value.file, caught.value.key) == (str(path), key)
    assert message in caught.value.message


def test_store_flag_errors_name_the_flag() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"store.initial_cluster": "n1", "store.name": "n1"})
    assert (caught.value.file, caught.value.key) == (COMMAND_LINE, "--store-initial-cluster")
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"store.initial_cluster_state": "later"})
    assert caught.value.key == "--store-initial-cluster-state"


def test_every_store_flag_is_a_store_key_and_a_store_flag_of_run(tmp_path: Path) -> None:
    """``confagent store``'s flags, ``[store]``'s keys and ``run``'s ``--store-*`` flags set the same
    fields: each store flag given a value unlike its default, the three give one ``StoreConfig``."""
    files = {name: tmp_path / name for name in ("c.pem", "k.pem", "ca.pem", "pc.pem", "pk.pem", "pca.pem")}
    for path in files.values():
        path.write_text("x")
    peer = "http://127.0.0.1:4002"
    values: dict[str, object] = {
        "--name": "n1", "--data-dir": str(tmp_path / "d"), "--listen-client-urls": "https://127.0.0.1:4001",
        "--advertise-client-urls": "https://127.0.0.1:4003", "--listen-peer-urls": peer,
        "--initial-advertise-peer-urls": peer, "--initial-cluster": f"n1={peer}",
        "--initial-cluster-token": "tok", "--initial-cluster-state": "existing",
        "--cert-file": str(files["c.pem"]), "--key-file": str(files["k.pem"]), "--client-cert-auth": True,
        "--trusted-ca-file": str(files["ca.pem"]), "--peer-cert-file": str(files["pc.pem"]),
        "--peer-key-file": str(files["pk.pem"]), "--peer-client-cert-auth": True,
        "--peer-trusted-ca-file": str(files["pca.pem"]), "--snapshot-count": 7,
        "--experimental-watch-progress-notify-interval": "500ms",
        "--auth-token": f"jwt,pub-key={files['pc.pem']},sign-method=ES256,ttl=2m", "--auth-token-ttl": 60,
        "--bcrypt-cost": 12, "--max-learners": 20,
    }
    parser = build_parser()
    store_flags = [action.option_strings[0] for action in _subparser(parser, "store")._actions
                   if action.option_strings and action.dest not in ("help", "log_level")]
    assert sorted(store_flags) == sorted(values)

    def argv(prefix: str) -> list[str]:
        return [part for flag, value in values.items() for part in
                ([f"--{prefix}{flag[2:]}"] if value is True else [f"--{prefix}{flag[2:]}", str(value)])]

    from_store = settings_from_flags(StoreConfig, parser.parse_args(["store", *argv("")]))
    from_run = config_source(parser.parse_args(["run", *argv("store-")])).load().store
    toml = "".join(f"{flag[2:].replace('-', '_')} = {_toml(value)}\n" for flag, value in values.items())
    from_file = load_config(write(tmp_path, f"[store]\n{toml}"), {}).store
    assert from_store == from_run == from_file
    unchanged = [field for field in declared(StoreConfig)
                 if getattr(from_store, field) == getattr(StoreConfig(), field)]
    assert not unchanged


def test_max_learners_takes_etcd_3_5s_spelling_and_at_least_one(tmp_path: Path) -> None:
    parser = build_parser()
    for flag in ("--max-learners", "--experimental-max-learners"):
        assert settings_from_flags(StoreConfig, parser.parse_args(["store", flag, "50"])).max_learners == 50
    assert StoreConfig().max_learners == 1  # etcd 3.4's limit
    assert node_config_of(StoreConfig(max_learners=9)).max_learners == 9
    assert load_config(write(tmp_path, "[store]\nmax_learners = 30\n"), {}).store.max_learners == 30
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "[store]\nmax_learners = 0\n"), {})
    assert caught.value.key == "store.max_learners"


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _toml(value: object) -> str:
    if value is True:
        return "true"
    if isinstance(value, int):
        return str(value)
    return f'"{value}"'

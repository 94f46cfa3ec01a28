"""``[store]``: etcd's member settings from the file and ``--store-*`` flags, to the store's StoreConfig.

Every error names the key (``store.initial_cluster``) or the flag (``--store-initial-cluster``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.backends import EmbeddedMember
from confagent.backends._embedded import store_config
from confagent.cli import build_parser
from confagent.cli._run_cmd import config_source
from confagent.config import COMMAND_LINE, StoreSettings, load_config
from confagent.errors import ConfigError

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
    assert store == StoreSettings(
        data_dir=tmp_path / "data", name="n2", listen_client_urls=("http://127.0.0.1:2379",),
        advertise_client_urls=("http://127.0.0.1:2379",), listen_peer_urls=("http://127.0.0.1:2380",),
        initial_advertise_peer_urls=("http://127.0.0.1:2380",), initial_cluster=CLUSTER,
        initial_cluster_state="new", initial_cluster_token="tok")
    options = load_config(write(tmp_path, MEMBER_TOML), {}).backend_config()
    config = store_config(tmp_path / "data", options.listen_client_urls, options.member)
    config.validate()
    assert (config.name, config.initial_cluster, config.initial_cluster_token) == ("n2", CLUSTER, "tok")
    assert [member.name for member in config.members()] == ["n1", "n2", "n3"]
    assert config.node_config().listen_peer_url == "http://127.0.0.1:2380"


def test_initial_cluster_may_be_an_array(tmp_path: Path) -> None:
    items = ", ".join(f'"{item}"' for item in CLUSTER.split(","))
    text = MEMBER_TOML.replace(f'initial_cluster = "{CLUSTER}"', f"initial_cluster = [{items}]")
    assert load_config(write(tmp_path, text), {}).store.initial_cluster == CLUSTER


def test_a_lone_member_listens_for_no_peer(tmp_path: Path) -> None:
    """Two agents on one host must not both want port 2380; the member ID derives as before."""
    config = store_config(tmp_path, (), EmbeddedMember())
    assert config.node_config().listen_peer_url == ""
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

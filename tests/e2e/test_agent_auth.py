"""The agent's etcd backend signed in as a user, against a server with auth on (``own_server``).

The password comes from each of its sources (the flag, a file, the
environment, ``confagent.toml``); refused credentials end the one-shot run
with an error naming the user, and the password is in no output.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from confagent.backends import PASSWORD_ENV
from confagent.client import ClientConfig, Credentials, EtcdClient, PermissionType
from confagent.testing import Processes, until
from tests.agent.processes import text_of
from tests.agent.support import resource_toml, run, write_confdir

ROOT_PASSWORD = f"root-{uuid.uuid4().hex[:8]}"
ALICE_PASSWORD = f"alice-{uuid.uuid4().hex[:8]}"


def _auth_on(url: str) -> None:
    """root, alice (read and write on the keys under /app, as the resource's keys name them), /app/v = 1;
    then auth on."""

    async def body() -> None:
        async with EtcdClient(ClientConfig(endpoints=(url,))) as etcd:
            await etcd.put(b"/app/v", b"1")
            await etcd.auth.user_add("root", ROOT_PASSWORD)
            await etcd.auth.role_add("root")
            await etcd.auth.user_grant_role("root", "root")
            await etcd.auth.user_add("alice", ALICE_PASSWORD)
            await etcd.auth.role_add("app")
            await etcd.auth.role_grant_permission("app", PermissionType.READWRITE, b"/app", prefix=True)
            await etcd.auth.user_grant_role("alice", "app")
            await etcd.auth.enable()
        credentials = Credentials("root", ROOT_PASSWORD)
        async with EtcdClient(ClientConfig(endpoints=(url,), credentials=credentials)) as root:
            assert (await root.get(b"/app/v")).response.count == 1

    run(body)


def _confdir(root: Path) -> Path:
    dest = root / "out" / "app.conf"
    write_confdir(root, {"app.toml": resource_toml("app.tmpl", dest, '["/app"]', "create_dest_dirs = true")},
                  {"app.tmpl": 'v={{ getv("/app/v") }}\n'})
    return dest


def _onetime(processes: Processes, root: Path, url: str, *flags: str, env: dict[str, str] | None = None
             ) -> tuple[int, str]:
    done = processes.confagent("run", "--onetime", "--backend", "etcd", "--node", url, "--confdir",
                               str(root), *flags, env=env)
    return done.returncode, done.stdout + done.stderr


def test_the_agent_signs_in_with_a_password_from_each_source(tmp_path: Path, own_server: str,
                                                             processes: Processes) -> None:
    _auth_on(own_server)
    dest = _confdir(tmp_path)
    password_file = tmp_path / "password"
    password_file.write_text(f"{ALICE_PASSWORD}\n")
    config = tmp_path / "confagent.toml"
    config.write_text(f'basic_auth = true\nusername = "alice"\npassword = "{ALICE_PASSWORD}"\n')
    for flags, env in ((["--username", "alice", "--password", ALICE_PASSWORD], None),
                       (["--username", "alice", "--password-file", str(password_file)], None),
                       (["--basic-auth", "--username", "alice"], {PASSWORD_ENV: ALICE_PASSWORD}),
                       (["--config-file", str(config)], None)):
        dest.unlink(missing_ok=True)
        code, shown = _onetime(processes, tmp_path, own_server, *flags, env=env)
        assert (code, text_of(dest)) == (0, "v=1\n"), (flags, shown)


def test_refused_credentials_name_the_user_and_no_password(tmp_path: Path, own_server: str,
                                                           processes: Processes) -> None:
    _auth_on(own_server)
    dest = _confdir(tmp_path)
    code, shown = _onetime(processes, tmp_path, own_server, "--username", "alice", "--password", "wrong-pw")
    assert code == 1 and not dest.exists(), shown
    assert "authentication failed, invalid user ID or password (signing in as user 'alice')" in shown, shown
    assert "wrong-pw" not in shown
    code, shown = _onetime(processes, tmp_path, own_server)
    assert code == 1 and "user name is empty" in shown, shown


def test_credentials_that_cannot_be_used_are_configuration_errors(tmp_path: Path, own_server: str,
                                                                  processes: Processes) -> None:
    _confdir(tmp_path)
    for flags, words in ((["--password", "x"], "--password: needs username as well"),
                         (["--basic-auth"], "--basic-auth: needs username as well"),
                         (["--username", "alice"], f"no password for user 'alice': give password, "
                                                   f"password_file or ${PASSWORD_ENV}"),
                         (["--username", "a", "--password", "x", "--password-file", str(tmp_path)],
                          "give one of password and password_file"),
                         (["--username", "a", "--password-file", str(tmp_path / "none")], "no such file")):
        code, shown = _onetime(processes, tmp_path, own_server, *flags)
        assert code != 0 and words in shown, (flags, shown)


def test_keys_the_user_may_not_read_are_named_with_the_user(tmp_path: Path, own_server: str,
                                                            processes: Processes) -> None:
    _auth_on(own_server)
    dest = _confdir(tmp_path)
    other = tmp_path / "out" / "other.conf"
    write_confdir(tmp_path, {"other.toml": resource_toml("other.tmpl", other, '["/other"]',
                                                         "create_dest_dirs = true")},
                  {"other.tmpl": 'v={{ getv("/other/v", "none") }}\n'})
    code, shown = _onetime(processes, tmp_path, own_server, "--username", "alice", "--password",
                           ALICE_PASSWORD)
    assert code == 1 and not dest.exists() and not other.exists(), shown
    assert "etcdserver: permission denied: user 'alice' may not read /other" in shown, shown


def test_the_agent_signed_in_follows_the_keys_and_says_its_fleet_summary_is_refused(
        tmp_path: Path, own_server: str, processes: Processes) -> None:
    _auth_on(own_server)
    dest = _confdir(tmp_path)
    password_file = tmp_path / "password"
    password_file.write_text(ALICE_PASSWORD)
    agent = processes.agent(["--backend", "etcd", "--node", own_server, "--confdir", str(tmp_path),
                             "--username", "alice", "--password-file", str(password_file),
                             "--fleet-publish", "--log-format", "json"], tmp_path / "agent.log", tmp_path)

    async def put(value: bytes) -> None:
        credentials = Credentials("root", ROOT_PASSWORD)
        async with EtcdClient(ClientConfig(endpoints=(own_server,), credentials=credentials)) as root:
            await root.put(b"/app/v", value)

    until(lambda: text_of(dest) == "v=1\n", "the first render", agent.log)
    run(lambda: put(b"2"))
    until(lambda: text_of(dest) == "v=2\n", "the put", agent.log)
    assert ALICE_PASSWORD not in agent.log.read_text()
    # alice may not write under /confagent/fleet/: said plainly, and the renders go on
    refused = "fleet summary refused: the agent's user needs write access to the prefix"
    until(lambda: bool(agent.events(refused)), "the fleet summary refused", agent.log)
    assert agent.stop() == 0

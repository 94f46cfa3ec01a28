"""The env backend: confd's mapping between keys and variable names."""

from __future__ import annotations

import pytest

from confagent.backends import EnvBackend
from confagent.backends._env import key_of_variable, variable_prefix
from tests.backends.harness import run


@pytest.mark.parametrize(("prefix", "variable"), [
    ("/app/db/host", "APP_DB_HOST"), ("/", ""), ("/database/url", "DATABASE_URL"), ("app", "APP"),
])
def test_prefix_to_variable_name(prefix: str, variable: str) -> None:
    assert variable_prefix(prefix) == variable


@pytest.mark.parametrize(("variable", "key"), [
    ("APP_DB_HOST", "/app/db/host"), ("PATH", "/path"), ("My_Var", "/my/var"),
])
def test_variable_name_to_key(variable: str, key: str) -> None:
    assert key_of_variable(variable) == key


def test_snapshot_reads_the_variables_under_each_prefix() -> None:
    environ = {"APP_DB_HOST": "db", "APP_PORT": "80", "APPLE": "fruit", "WEB_A": "1", "HOME": "/root"}

    async def body() -> None:
        backend = EnvBackend(environ)
        assert not backend.watches
        snap = await backend.snapshot(["/app", "/web"])
        assert dict(snap.entries) == {"/app/db/host": "db", "/app/port": "80", "/apple": "fruit",
                                      "/web/a": "1"}
        assert dict((await backend.snapshot(["/App"])).entries) == {}  # keys are lower case
        assert snap.revision == 1
        await backend.close()

    run(body)

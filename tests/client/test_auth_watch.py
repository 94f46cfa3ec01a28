"""Watches of a signed-in client against a server with auth on: a dropped token is replaced when a
stream opens, a range the user may not read is refused (``own_server``, as tests/client/test_auth.py)."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from confagent.errors import PermissionDenied
from tests.client.support import run
from tests.client.test_auth import ALICE_PASSWORD, ROOT_PASSWORD, client, enable_auth


def test_a_watch_opened_with_a_forgotten_token_signs_in_again(own_server: str) -> None:
    async def body() -> None:
        await enable_auth(own_server)
        async with client(own_server, "alice", ALICE_PASSWORD) as alice, \
                client(own_server, "root", ROOT_PASSWORD) as root:
            await alice.login()
            await root.auth.disable()  # every token is forgotten: alice's next call is a watch
            await root.auth.enable()
            async with aclosing(alice.watch(b"/app/", prefix=True)) as messages:
                async for message in messages:
                    if message.response.created:
                        assert not message.response.canceled, message
                        await root.put(b"/app/a", b"1")
                    if message.response.events:
                        assert message.response.events[0].kv.value == b"1"
                        break

    run(body)


def test_a_watch_on_keys_the_user_may_not_read_is_refused(own_server: str) -> None:
    async def body() -> None:
        await enable_auth(own_server)
        async with client(own_server, "alice", ALICE_PASSWORD) as alice:
            with pytest.raises(PermissionDenied):
                async with aclosing(alice.watch(b"/other/", prefix=True)) as messages:
                    async for _ in messages:
                        pass

    run(body)

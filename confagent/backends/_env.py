"""The ``env`` backend: environment variables, with confd's key mapping.

Rules (confd.md §5.5):
1. A prefix becomes a variable-name prefix: drop the leading ``/``, ``/``
   becomes ``_``, upper case: ``/app/db`` -> ``APP_DB``; every variable whose
   name starts with it is read.
2. A variable's key is its name lower-cased, ``_`` becoming ``/``, after a
   ``/``: ``APP_DB_HOST`` -> ``/app/db/host``. So keys holding ``_`` or upper
   case cannot be expressed (confd's limitation, kept for compatibility).
3. Only keys under the requested prefix are returned (confd also returned
   ``/apple`` for a ``/App`` prefix, a key no template could name).
4. The revision is always 1 and ``changes`` never yields: a process's
   environment is fixed when it starts, so there is nothing to watch and
   SIGHUP does not re-read it (``watches`` is False).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Mapping, Sequence

from confagent.backends._base import Change, Snapshot
from confagent.backends._prefixes import PrefixSet

__all__ = ["EnvBackend", "key_of_variable", "variable_prefix"]

_REVISION = 1


def variable_prefix(prefix: str) -> str:
    """The variable-name prefix of a key prefix: ``/app/db`` -> ``APP_DB``."""
    return prefix.removeprefix("/").replace("/", "_").upper()


def key_of_variable(name: str) -> str:
    """The key of a variable: ``APP_DB_HOST`` -> ``/app/db/host``."""
    return "/" + name.lower().replace("_", "/")


class EnvBackend:
    """Keys from environment variables (module rules).

    Args:
        environ: the variables; the process environment when None (tests pass their own).
    """

    name = "env"
    watches = False

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self._closed = asyncio.Event()

    async def snapshot(self, prefixes: Sequence[str]) -> Snapshot:
        watched = PrefixSet(prefixes)
        entries: dict[str, str] = {}
        for prefix in watched.prefixes:
            wanted = variable_prefix(prefix)
            for name, value in self._environ.items():
                key = key_of_variable(name)
                if name.startswith(wanted) and key.startswith(prefix):
                    entries[key] = value
        return Snapshot(_REVISION, entries)

    async def changes(self, prefixes: Sequence[str], after: int) -> AsyncGenerator[Change, None]:
        """Nothing, ever (rule 4); ends when the backend is closed."""
        PrefixSet(prefixes)  # the same argument checks as every backend
        await self._closed.wait()
        return
        yield  # an async generator that yields nothing

    async def close(self) -> None:
        self._closed.set()

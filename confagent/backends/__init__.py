"""Backends and the local cache: a consistent snapshot of some key prefixes at one revision, then the
changes after it, kept current in a ``PrefixCache``.

``open_backend(BackendConfig(backend=...))`` opens one of:

* ``embedded`` (the default): the store in this process, read and watched without HTTP;
* ``etcd``: an etcd v3 cluster or confagent store nodes, over the JSON API;
* ``file``: YAML/JSON files flattened to keys as confd does, watched with watchfiles;
* ``env``: environment variables with confd's key mapping (never changes).

Every backend follows the rules of :class:`Backend` (``_base.py``); the
conformance suite in ``tests/backends`` runs the same cases against each.
``PrefixCache(backend, prefixes).events()`` keeps a ``render.KeyView`` of the
prefixes current and reports each change with the keys it touched.
"""

from confagent.backends._backoff import Backoff, BackoffPolicy
from confagent.backends._base import Backend, Change, Snapshot
from confagent.backends._cache import CacheConfig, CacheEvent, CacheTrouble, CacheUpdate, PrefixCache
from confagent.backends._embedded import EmbeddedBackend
from confagent.backends._env import EnvBackend
from confagent.backends._etcd import EtcdBackend
from confagent.backends._file import FileBackend
from confagent.backends._prefixes import PrefixSet, distinct_prefixes
from confagent.backends._registry import BACKENDS, BackendConfig, open_backend

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendConfig",
    "Backoff",
    "BackoffPolicy",
    "CacheConfig",
    "CacheEvent",
    "CacheTrouble",
    "CacheUpdate",
    "Change",
    "EmbeddedBackend",
    "EnvBackend",
    "EtcdBackend",
    "FileBackend",
    "PrefixCache",
    "PrefixSet",
    "Snapshot",
    "distinct_prefixes",
    "open_backend",
]

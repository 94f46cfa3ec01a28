"""Backends and the local cache: a consistent snapshot of some key prefixes at one revision, then the
changes after it, kept current in a ``PrefixCache``.

``open_backend(BackendConfig(backend=...))`` opens one of:

* ``embedded`` (the default): the store in this process, read and watched without HTTP (a
  one-shot reads a lone member's data directory without starting it: ``DataDirBackend``);
* ``etcd``: an etcd v3 cluster or confagent store nodes, over the JSON API;
* ``file``: YAML/JSON files flattened to keys as confd does, watched with watchfiles;
* ``env``: environment variables with confd's key mapping (never changes);
* ``metad``: a metadata service's data port;
* ``redis``: strings and hashes of redis servers with confd's key mapping, by keyspace
  notifications or polling (``RedisBackend``, redis-py on use);
* ``zookeeper``: a ZooKeeper tree with confd's key mapping, by ZooKeeper's watches
  (``ZookeeperBackend``, kazoo on use).

Every backend follows the rules of :class:`Backend` (``_base.py``); the
conformance suite in ``tests/backends`` runs the same cases against each.
``PrefixCache(backend, prefixes).events()`` keeps a ``render.KeyView`` of the
prefixes current and reports each change with the keys it touched.

The backend classes are loaded on first use (``__getattr__``; ``open_backend``
imports only the one it opens): the embedded store brings uvicorn, ``etcd``
brings httpx, ``file`` brings PyYAML and watchfiles, ``redis`` redis-py, ``zookeeper``
kazoo, and a process needs at most one of them. So are ``PrefixCache``, its
events and config and the backoff it uses: the daemon's, which a one-shot pass
(one snapshot) does not use.
"""

from typing import TYPE_CHECKING

from confagent.backends._base import Backend, Change, Snapshot
from confagent.backends._env import EnvBackend
from confagent.backends._prefixes import PrefixSet, distinct_prefixes
from confagent.backends._registry import (
    BACKEND_NAMES,
    BACKENDS,
    EMBEDDED_STORE,
    PASSWORD_ENV,
    STAR_STRIPPING_BACKENDS,
    BackendConfig,
    embedded_store,
    open_backend,
)
from confagent.lazy import lazy_exports

if TYPE_CHECKING:
    from confagent.backends._cache import (
        CacheConfig,
        CacheEvent,
        CacheRecovered,
        CacheTrouble,
        CacheUpdate,
        PrefixCache,
    )
    from confagent.backends._data_dir import DataDirBackend
    from confagent.backends._embedded import EmbeddedBackend
    from confagent.backends._etcd import EtcdBackend
    from confagent.backends._file import FileBackend
    from confagent.backends._grpc_snapshot import GrpcSnapshotBackend
    from confagent.backends._redis import RedisBackend
    from confagent.backends._zookeeper import ZookeeperBackend
    from confagent.backoff import Backoff, BackoffPolicy

__all__ = [
    "BACKENDS",
    "BACKEND_NAMES",
    "EMBEDDED_STORE",
    "PASSWORD_ENV",
    "STAR_STRIPPING_BACKENDS",
    "Backend",
    "BackendConfig",
    "Backoff",
    "BackoffPolicy",
    "CacheConfig",
    "CacheEvent",
    "CacheRecovered",
    "CacheTrouble",
    "CacheUpdate",
    "Change",
    "DataDirBackend",
    "EmbeddedBackend",
    "EnvBackend",
    "EtcdBackend",
    "FileBackend",
    "GrpcSnapshotBackend",
    "PrefixCache",
    "PrefixSet",
    "RedisBackend",
    "Snapshot",
    "ZookeeperBackend",
    "distinct_prefixes",
    "embedded_store",
    "open_backend",
]

_LAZY_MODULES = {"DataDirBackend": "_data_dir", "EmbeddedBackend": "_embedded", "EtcdBackend": "_etcd",
                 "FileBackend": "_file", "GrpcSnapshotBackend": "_grpc_snapshot", "RedisBackend": "_redis",
                 "ZookeeperBackend": "_zookeeper",
                 **dict.fromkeys(("CacheConfig", "CacheEvent", "CacheRecovered", "CacheTrouble",
                                  "CacheUpdate", "PrefixCache", "Backoff", "BackoffPolicy"), "_cache")}
"""Backend classes whose modules import heavy libraries, and the daemon's cache with the backoff it
imports (a one-shot pass reads one snapshot, using neither), by the module holding them (module docstring)."""


if not TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead, and checks every name
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_MODULES)

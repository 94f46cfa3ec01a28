"""The redis backend's pure half: confd's key mapping, its node addresses, and the read script.

Key mapping (confd's redis backend, confd.md §1 ``-separator`` and §6):

1. A key path becomes a redis key by ``to_redis``: with the separator ``/``
   (the default) it is unchanged (``/app/db`` is the redis key ``/app/db``);
   with another separator the leading ``/`` is dropped and every ``/``
   becomes the separator (``:`` gives ``app:db``).
2. A redis key becomes a key path by ``from_redis``: a ``/`` is put in front
   when missing, and every separator becomes ``/`` (``app:db:url`` ->
   ``/app/db/url``).
3. A string key is one key path; a hash is one key path per field, the field
   appended as one more segment (the hash ``/app/db`` with the field
   ``host`` is ``/app/db/host``). Other types (lists, sets, ...) are not read,
   as confd reads none of them.
4. A prefix is read with ``SCAN MATCH <to_redis(prefix)>*`` (glob characters
   of the prefix escaped), so, as every backend's prefix, ``/a`` holds
   ``/a/x`` and ``/ab``. confd reads the exact key first and scans
   ``<key>/*`` only when it is neither a string nor a hash; reading every key
   under the prefix gives the same keys to every lookup a template can make
   (a template reads the key and what is under it), and never mixes a
   string's and its children's absence.

Node addresses (confd's ``-node`` for redis): ``host:port`` with an optional
``/db`` (confd's database selection), a path to a unix socket, or a
``redis://`` / ``rediss://`` (TLS) URL with ``/db``. Nodes are tried in
order (``confagent/backends/_redis_link.py``).

``READ_SCRIPT`` reads every string and hash under some glob patterns inside
redis in one script call, so a snapshot is one moment of the server (a
script runs atomically: nothing is written while it runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from confagent.errors import ConfigError

__all__ = ["DEFAULT_PORT", "DEFAULT_SEPARATOR", "READ_SCRIPT", "RedisNode", "from_redis", "parse_node",
           "scan_pattern", "to_redis"]

DEFAULT_PORT = 6379
DEFAULT_SEPARATOR = "/"
_GLOB_SPECIAL = frozenset("*?[]\\")


def to_redis(key: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """A key path as a redis key (rule 1)."""
    if separator == "/":
        return key
    return key.removeprefix("/").replace("/", separator)


def from_redis(key: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """A redis key as a key path (rule 2)."""
    path = key if key.startswith("/") else "/" + key
    return path.replace(separator, "/")


def scan_pattern(prefix: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """The ``SCAN MATCH`` glob reading every redis key under ``prefix`` (rule 4)."""
    literal = "".join("\\" + char if char in _GLOB_SPECIAL else char for char in to_redis(prefix, separator))
    return literal + "*"


@dataclass(frozen=True, slots=True)
class RedisNode:
    """One redis server to try.

    Attributes:
        text: the node as configured, for messages.
        host, port: where it listens on TCP (unused for a unix socket).
        socket_path: a unix socket's path, or None for TCP.
        db: the database to select (``host:port/db``).
        tls: connect with TLS (``rediss://``).
    """

    text: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    socket_path: str | None = None
    db: int = 0
    tls: bool = False

    @property
    def keyspace_channel(self) -> str:
        """The channel prefix of this database's keyspace notifications."""
        return f"__keyspace@{self.db}__:"


def parse_node(text: str) -> RedisNode:
    """A node as confd reads ``-node`` for redis (module docstring).

    A scheme-less node may come as ``http://host:port`` (the node option's URL form); that
    ``http://`` is read as no scheme, and left out of the node's ``text``.

    Raises:
        ConfigError: not a node address (names the node).
    """
    text = raw = text.removeprefix("http://")
    if raw.startswith("/") or raw.startswith("unix://"):
        return RedisNode(text, socket_path=raw.removeprefix("unix://"))
    scheme = "redis"
    if "://" in raw:
        scheme, _, raw = raw.partition("://")
        if scheme not in ("redis", "rediss", "https"):
            raise ConfigError(f"{text!r} is not a redis node (host:port[/db], a socket path, "
                              f"redis://host:port[/db] or rediss://host:port[/db])", key="node")
    parts = urlsplit("//" + raw)
    if parts.username or parts.password:
        raise ConfigError(f"{text!r}: give the password with password, password_file or client_key, "
                          f"not in the node", key="node")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"{text!r} has no valid port", key="node") from None
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit():
        raise ConfigError(f"{text!r}: the database after '/' must be a number, got {db_text!r}",
                          key="node")
    return RedisNode(text, host=parts.hostname or "127.0.0.1", port=port, db=int(db_text),
                     tls=scheme in ("rediss", "https"))


READ_SCRIPT = """
local strings, hashes = {}, {}
for _, pattern in ipairs(ARGV) do
  local cursor = "0"
  repeat
    local reply = redis.call("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
    cursor = reply[1]
    for _, key in ipairs(reply[2]) do
      local kind = redis.call("TYPE", key)["ok"]
      if kind == "string" then
        strings[#strings + 1] = key
        strings[#strings + 1] = redis.call("GET", key)
      elseif kind == "hash" then
        local fields = redis.call("HGETALL", key)
        for i = 1, #fields, 2 do
          hashes[#hashes + 1] = key
          hashes[#hashes + 1] = fields[i]
          hashes[#hashes + 1] = fields[i + 1]
        end
      end
    end
  until cursor == "0"
end
return {strings, hashes}
"""
"""Every string (key, value pairs) and hash field (key, field, value triples) under the patterns in
ARGV, read atomically (module docstring)."""

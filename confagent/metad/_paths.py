"""Metadata paths, client addresses, and where the service keeps each thing in the store (pure).

Rules:
1. A metadata path is cleaned as Go's ``path.Clean`` cleans it after a
   leading ``/``: ``a//b/`` is ``/a/b``, and ``..`` never climbs above ``/``.
2. Data path ``/p`` is the store key ``<prefix>/p``; the root ``/`` is a
   directory, never a value.
3. The service's own keys live under the reserved prefix ``/_metad/``, as
   metad keeps them: mappings at ``/_metad/mapping/<group>/<ip>/<key...>``
   (value: a data path) and access rules at ``/_metad/rule/<group>/<ip>``
   (value: a JSON array). With an empty data prefix they sit inside the data
   namespace: data reads hide them and data writes may not touch them.
4. Addresses are normalised with ``ipaddress``: ``::ffff:10.0.0.1`` is
   ``10.0.0.1``, ``2001:DB8::1`` is ``2001:db8::1``.
"""

from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import dataclass

from confagent.errors import ConfigError

__all__ = ["RESERVED_ROOT", "Layout", "clean_path", "normalize_ip", "path_segments"]

RESERVED_ROOT = "/_metad"
"""Every key of the service's own (mappings, rules) starts with this plus ``/``."""


def clean_path(path: str) -> str:
    """``path`` cleaned to an absolute metadata path (rule 1)."""
    return posixpath.normpath("/" + path.lstrip("/"))


def path_segments(path: str) -> list[str]:
    """The segments of a cleaned path: ``/a/b`` -> ``['a', 'b']``, ``/`` -> ``[]``."""
    return [segment for segment in path.split("/") if segment]


def normalize_ip(text: str) -> str | None:
    """``text`` as a normalised IP address (rule 4); None when it is not one."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the data, the mappings and the rules of one metad group are kept (module rules).

    Attributes:
        prefix: the store key prefix of the data (``""``: the whole key space).
        group: the namespace of mappings and rules; several groups may share the data.
    """

    prefix: str = ""
    group: str = "default"

    def __post_init__(self) -> None:
        cleaned = clean_path(self.prefix).rstrip("/")
        object.__setattr__(self, "prefix", cleaned)
        if not self.group or "/" in self.group:
            raise ConfigError(f"{self.group!r} is not a group name (non-empty, no '/')", key="--group")

    @property
    def mapping_root(self) -> str:
        """Every mapping key of the group starts with this."""
        return f"{RESERVED_ROOT}/mapping/{self.group}/"

    @property
    def rule_root(self) -> str:
        """Every rule key of the group starts with this."""
        return f"{RESERVED_ROOT}/rule/{self.group}/"

    @property
    def data_root(self) -> str:
        """Every data key starts with this."""
        return self.prefix + "/"

    @property
    def watched_prefixes(self) -> tuple[str, ...]:
        """The store prefixes the service reads and watches: data, mappings, rules."""
        return (self.data_root, self.mapping_root, self.rule_root)

    def data_key(self, path: str) -> str:
        """The store key of data path ``path`` (not the root)."""
        assert path != "/", "the data root is a directory"
        return self.prefix + path

    def data_path(self, key: str) -> str | None:
        """The data path of store key ``key``; None when the key is not data (rule 3)."""
        if not key.startswith(self.data_root) or self.reserved(key[len(self.prefix):]):
            return None
        return key[len(self.prefix):]

    def reserved(self, path: str) -> bool:
        """True when data path ``path`` is the service's own (only with an empty prefix)."""
        return not self.prefix and (path == RESERVED_ROOT or path.startswith(RESERVED_ROOT + "/"))

    def mapping_key(self, ip: str, path: str = "/") -> str:
        """The store key of mapping path ``path`` of host ``ip`` (``/`` is the host's directory)."""
        return self.mapping_root + ip + ("" if path == "/" else path)

    def rule_key(self, ip: str) -> str:
        return self.rule_root + ip

    def host_of(self, key: str) -> tuple[str, str] | None:
        """``("mapping" | "rule", ip)`` for one of the group's keys; None for any other key."""
        for kind, root in (("mapping", self.mapping_root), ("rule", self.rule_root)):
            if key.startswith(root):
                ip = key[len(root):].split("/", 1)[0]
                return (kind, ip) if ip else None
        return None

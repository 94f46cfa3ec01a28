"""Host mappings: which data paths a host's ``/self`` shows, and how mapping writes are checked (pure).

Rules (metad's mapping API):
1. A host's mapping is a tree whose values are data paths:
   ``{"node": "/nodes/1", "cluster": {"main": "/clusters/cl-1"}}``.
2. ``/self/<k>/<rest>`` follows the mapping's segments to a value (a data
   path ``p``), then ``<rest>`` inside the data: ``p/<rest>``. A path that
   ends inside the mapping shows that part of it with every data path
   replaced by its data.
3. In a write, the first level below ``/v1/mapping`` is an IP address, the
   keys below it are path segments, and every value is an absolute path
   (stored cleaned). Anything else is a ``MetadRequestError`` naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confagent.errors import MetadRequestError
from confagent.metad._paths import clean_path, normalize_ip, path_segments
from confagent.metad._tree import Node, flatten_value

__all__ = ["SelfTarget", "follow_mapping", "mapped_paths", "mapping_path", "mapping_writes"]


@dataclass(frozen=True, slots=True)
class SelfTarget:
    """Where a ``/self`` path leads (rule 2).

    Attributes:
        data_path: the data path it reaches, or None when it ends inside the mapping.
        mapping: the part of the mapping it ends in (when ``data_path`` is None).
    """

    data_path: str | None = None
    mapping: dict[str, Node] | None = None


def follow_mapping(mapping: Node, path: str) -> SelfTarget | None:
    """Where ``path`` (below ``/self``) leads in ``mapping``; None when it leads nowhere."""
    node = mapping
    segments = path_segments(path)
    for index, segment in enumerate(segments):
        if isinstance(node, str):
            return SelfTarget(data_path=clean_path(node + "/" + "/".join(segments[index:])))
        child = node.get(segment)
        if child is None:
            return None
        node = child
    return SelfTarget(data_path=node) if isinstance(node, str) else SelfTarget(mapping=node)


def mapped_paths(mapping: Node) -> Iterator[str]:
    """Every data path in ``mapping``."""
    if isinstance(mapping, str):
        yield mapping
        return
    for child in mapping.values():
        yield from mapped_paths(child)


def mapping_writes(path: str, value: Any) -> dict[str, str]:
    """The mapping paths and data paths that writing JSON ``value`` at mapping ``path`` puts.

    Returns paths below ``/v1/mapping``, each starting with a normalised IP address.

    Raises:
        MetadRequestError: a host that is not an IP address, a nested key that is not a
            segment, a value that is not an absolute path, or a host mapped to a bare value.
    """
    path = mapping_path(path)
    if path == "/" and not isinstance(value, dict):
        raise MetadRequestError("the mapping root takes an object of IP address -> mapping")
    flat = flatten_value(path, value)
    written: dict[str, str] = {}
    for written_path, data_path in flat.items():
        host, *rest = path_segments(written_path)
        if not rest:
            raise MetadRequestError(f"the mapping of {host} must be an object of name -> data path")
        if not isinstance(value, (dict, str)) or not data_path.startswith("/"):
            raise MetadRequestError(f"mapping's value should be an absolute path: {written_path} "
                                    f"-> {data_path!r}")
        written["/" + "/".join([_host(host), *rest])] = clean_path(data_path)
    return written


def mapping_path(path: str) -> str:
    """A mapping path with its host normalised: ``/::FFFF:10.0.0.1/node`` -> ``/10.0.0.1/node``.

    Raises:
        MetadRequestError: the first segment is not an IP address.
    """
    segments = path_segments(path)
    return "/" + "/".join([_host(segments[0]), *segments[1:]]) if segments else "/"


def _host(text: str) -> str:
    ip = normalize_ip(text)
    if ip is None:
        raise MetadRequestError(f"mapping's first level key should be an IP address, not {text!r}")
    return ip

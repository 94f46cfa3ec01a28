"""``discover_nodes``: the backend's nodes read from a DNS SRV record, as confd finds them.

Rules (confd's ``-srv-domain``, ``-srv-record`` and ``-scheme``; ``DiscoveryConfig``):
1. The record is ``srv_record``, else ``_<backend>._tcp.<srv_domain>.`` with
   the backend as the configuration wrote it (``etcdv3``'s is ``_etcdv3._tcp``).
   It is asked of ``srv_nameserver`` when given, else of the resolver the
   agent's host uses (``/etc/resolv.conf``), through ``Host.lookup_srv``.
2. Each answer is a node ``target:port``, the target without its final dot.
   For ``etcd`` the ``scheme`` is put before it; for ``etcdv3`` confd puts
   none, and the node is ``https://`` when client TLS is configured, else
   ``http://``; the other backends take ``host:port``.
3. The nodes come in ``lookup_srv``'s order: priority, then the heaviest
   weight first (Go orders by priority and shuffles by weight; this is the
   most likely of its orders, and the same every time), then target and port.
4. They replace any configured nodes, as in confd. The lookup happens each
   time the backend is opened (start, and a one-shot pass).
5. A record that does not resolve (no such name, no SRV answer, no server
   answering in time) is a ``ResolveError`` naming the record; nothing starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from confagent.agent._host import SystemHost
from confagent.backends import BackendConfig
from confagent.config import AgentConfig
from confagent.errors import ResolveError
from confagent.render import SRV, Host

__all__ = ["discover_nodes", "nodes_of"]


async def discover_nodes(config: AgentConfig, host: Host) -> BackendConfig:
    """``config``'s backend options, with the nodes its SRV record names when it names one (rules).

    Raises:
        ResolveError: the record does not resolve (rule 5).
    """
    backend, discovery = config.backend_config(), config.discovery
    record = discovery.record
    if record is None or backend.backend == "env":  # confd ignores it for env
        return backend
    nameserver = discovery.nameserver
    resolver: Host = SystemHost(nameservers=[nameserver]) if nameserver is not None else host
    try:
        answers = await asyncio.to_thread(resolver.lookup_srv, "", "", record)
    except ResolveError as error:
        cause = str(error).removeprefix(f"lookup {record}: ")
        raise ResolveError(f"cannot get the {discovery.backend_name} backend's nodes from SRV record "
                           f"{record}: {cause}") from None
    return replace(backend, nodes=nodes_of(answers, config))


def nodes_of(answers: Sequence[SRV], config: AgentConfig) -> tuple[str, ...]:
    """The nodes SRV ``answers`` name for ``config``'s backend, in their order (rule 2)."""
    backend = config.backend
    scheme: str | None = None
    if config.discovery.backend_name == "etcdv3":
        scheme = "https" if backend.client_cert or backend.client_cakeys else "http"
    elif backend.backend == "etcd":
        scheme = config.discovery.scheme
    nodes = []
    for answer in answers:
        target = answer.Target.rstrip(".")
        address = f"[{target}]:{answer.Port}" if ":" in target else f"{target}:{answer.Port}"
        nodes.append(address if scheme is None else f"{scheme}://{address}")
    return tuple(nodes)

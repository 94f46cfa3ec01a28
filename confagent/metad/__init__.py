"""The metadata service (``confagent metad``): metad's API over the embedded store or etcd.

Hosts read their own metadata from the data port (``GET /self/...``),
filtered by their address; operators write data, host mappings and access
rules through the management API (``/v1/data``, ``/v1/mapping``,
``/v1/rule``). Mappings and rules live in the store under ``/_metad/``, so
several instances over one store serve the same thing, and the version they
report is the store's revision.

Pure core: ``_paths`` (layout, addresses), ``_tree`` (trees from keys),
``_access`` (rules), ``_mapping``, ``_state`` (every view at one revision),
``_waits`` (which long-polls a change wakes), ``_writes`` (txns of each
write), ``_formats``, ``_proxies``. I/O edge: ``_store``, ``_service``,
``_data_app``, ``_manage_app``, ``_listener``, ``_server``.
"""

from confagent.metad._access import FORBIDDEN, READ, AccessRule, AccessTree, parse_rules
from confagent.metad._config import DEFAULT_LISTEN, DEFAULT_LISTEN_MANAGE, MetadConfig, parse_address
from confagent.metad._formats import Format, negotiate, render
from confagent.metad._paths import RESERVED_ROOT, Layout, clean_path, normalize_ip
from confagent.metad._proxies import LOOPBACK_PROXIES, ClientAddresses
from confagent.metad._server import MetadServer
from confagent.metad._service import MetadService, ServiceLimits
from confagent.metad._state import MetadState
from confagent.metad._tree import Node, flatten_value, subtree
from confagent.metad._waits import ChangeLog, Interest, WaitRegistry, touches
from confagent.metad._writes import Space, WritePlan, delete_plan, merge_plan, replace_plan

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_LISTEN_MANAGE",
    "FORBIDDEN",
    "LOOPBACK_PROXIES",
    "READ",
    "RESERVED_ROOT",
    "AccessRule",
    "AccessTree",
    "ChangeLog",
    "ClientAddresses",
    "Format",
    "Interest",
    "Layout",
    "MetadConfig",
    "MetadServer",
    "MetadService",
    "MetadState",
    "Node",
    "ServiceLimits",
    "Space",
    "WaitRegistry",
    "WritePlan",
    "clean_path",
    "delete_plan",
    "flatten_value",
    "merge_plan",
    "negotiate",
    "normalize_ip",
    "parse_address",
    "parse_rules",
    "render",
    "replace_plan",
    "subtree",
    "touches",
]

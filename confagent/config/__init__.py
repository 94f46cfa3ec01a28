"""The agent's configuration: ``confagent.toml`` plus flags, and ``CONFDIR/conf.d`` with its templates.

``load_config(path, overrides)`` layers defaults, the global file and the
command line (flag > file > default; confd does it backwards) into a
validated, frozen ``AgentConfig``: one dataclass per component (``run``,
``backend``, ``store``, ``listener``, ``log``, ``discovery``); a file named
``confd.toml`` is read as confd's (its keys, confd's defaults, the
environment confd reads: ``_confd_file``, loaded when such a file is read); ``backend_config()`` maps it
to what ``confagent.backends.open_backend`` takes. ``load_resources(confdir,
prefix)`` reads every ``conf.d/**/*.toml`` resource and every template into a
``ResourceSet``; a broken resource is reported in ``errors`` and does not stop
the others. Every error is a ``ConfigError`` naming the file (or ``command
line``) and the key.
"""

from typing import TYPE_CHECKING

from confagent.config._agent_config import (
    AGENT_BACKEND,
    AGENT_STORE,
    BACKENDS,
    DEFAULT_CONFDIR,
    DEFAULT_DATA_DIR,
    DEFAULT_ETCD_NODES,
    DEFAULT_INTERVAL_S,
    DEFAULT_LOG_LEVEL,
    LOG_FORMATS,
    LOG_LEVEL_ALIASES,
    LOG_LEVELS,
    NODELESS_BACKENDS,
    SCHEMES,
    AgentConfig,
    DiscoveryConfig,
    ListenerConfig,
    LogConfig,
    RunConfig,
    log_level_named,
)
from confagent.config._load import COMMAND_LINE, CONFIG_KEYS, CONFIG_SECTIONS, flag_name, load_config
from confagent.config._resources import (
    MAX_RESOURCE_BYTES,
    MAX_TEMPLATE_BYTES,
    LoadedResource,
    ResourceSet,
    load_resources,
)
from confagent.lazy import lazy_exports

if TYPE_CHECKING:
    from confagent.config._confd_file import CONFD_FILE_NAME, CONFD_KEYS, NOT_SERVED, is_confd_file

__all__ = [
    "AGENT_BACKEND",
    "AGENT_STORE",
    "BACKENDS",
    "COMMAND_LINE",
    "CONFD_FILE_NAME",
    "CONFD_KEYS",
    "CONFIG_KEYS",
    "CONFIG_SECTIONS",
    "DEFAULT_CONFDIR",
    "DEFAULT_DATA_DIR",
    "DEFAULT_ETCD_NODES",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_LOG_LEVEL",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "LOG_LEVEL_ALIASES",
    "MAX_RESOURCE_BYTES",
    "MAX_TEMPLATE_BYTES",
    "NODELESS_BACKENDS",
    "NOT_SERVED",
    "SCHEMES",
    "AgentConfig",
    "DiscoveryConfig",
    "ListenerConfig",
    "LoadedResource",
    "LogConfig",
    "ResourceSet",
    "RunConfig",
    "flag_name",
    "is_confd_file",
    "load_config",
    "load_resources",
    "log_level_named",
]

_LAZY_MODULES = dict.fromkeys(("CONFD_FILE_NAME", "CONFD_KEYS", "NOT_SERVED", "is_confd_file"), "_confd_file")
"""Names loaded on first use: a confd.toml's reading is imported when one is read."""

if not TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead, and checks every name
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_MODULES)

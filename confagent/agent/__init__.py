"""The agent: the composition root that keeps configuration files in sync with the store.

``Agent(ConfigSource(path, overrides))`` loads ``confagent.toml`` and
``conf.d``, opens the backend and then either runs the daemon (``run``:
one ``PrefixCache`` over the union of the resources' prefixes; each change
re-renders only the resources whose reads it touched, debounced per resource
with ``wait = "min:max"``, all from one revision, applied in one batch),
renders everything once (``run_once``, ``--onetime``), or shows what would
change (``check``, ``render --check``). SIGTERM/SIGINT stop after the batch in
flight, within ``STOP_TIMEOUT_S`` more; SIGHUP reloads the configuration, keeping the running one when the
new one is broken, and so does a change under ``conf.d`` or ``templates``.
Resources with a ``reload_lock`` reload inside a slot of a semaphore in the
store (``StoreReloadSlots``). ``SystemHost`` is what templates see of the machine. The daemon reports to a
``StatusBoard``, served by the optional ``AgentListener`` (``/health``,
``/metrics``, ``/v1/status``), and to systemd (``SystemdNotifier``).

``Daemon``, ``AgentListener``, ``StatusApp``, ``watch_config``,
``AgentMetrics`` and ``StoreReloadSlots`` are loaded on first use
(``__getattr__``): they bring uvicorn, watchfiles, prometheus_client and the
etcd client, which a one-shot run does not need (or only with a ``reload_lock``).
So are the daemon's own parts, which a one-shot pass does not use either
(``Debouncer``, ``StatusBoard``, ``Health``, ``ResourceStatus``, ``SystemdNotifier``).
"""

from typing import TYPE_CHECKING

from confagent.agent._agent import STOP_TIMEOUT_S, Agent, RunReport
from confagent.agent._host import SystemHost
from confagent.agent._setup import (
    ConfigSource,
    Setup,
    compile_templates,
    keep_running,
    load_setup,
    log_resource_errors,
)
from confagent.agent._sync import Outcome, SyncOptions, log_outcome, sync_resources
from confagent.lazy import lazy_exports

if TYPE_CHECKING:
    from confagent.agent._daemon import Daemon
    from confagent.agent._debounce import Debouncer
    from confagent.agent._hotreload import watch_config
    from confagent.agent._listener import AgentListener, StatusApp
    from confagent.agent._metrics import AgentMetrics
    from confagent.agent._notify import SystemdNotifier
    from confagent.agent._reload_slots import StoreReloadSlots
    from confagent.agent._status import Health, ResourceStatus, StatusBoard

__all__ = [
    "STOP_TIMEOUT_S",
    "Agent",
    "AgentListener",
    "AgentMetrics",
    "ConfigSource",
    "Daemon",
    "Debouncer",
    "Health",
    "Outcome",
    "ResourceStatus",
    "RunReport",
    "Setup",
    "StatusApp",
    "StatusBoard",
    "StoreReloadSlots",
    "SyncOptions",
    "SystemHost",
    "SystemdNotifier",
    "compile_templates",
    "keep_running",
    "load_setup",
    "log_outcome",
    "log_resource_errors",
    "sync_resources",
    "watch_config",
]

_LAZY_MODULES = {"Daemon": "_daemon", "AgentListener": "_listener", "StatusApp": "_listener",
                 "watch_config": "_hotreload", "AgentMetrics": "_metrics",
                 "StoreReloadSlots": "_reload_slots", "Debouncer": "_debounce", "SystemdNotifier": "_notify",
                 "StatusBoard": "_status", "Health": "_status", "ResourceStatus": "_status"}
"""Names loaded on first use, by the module defining them (module docstring)."""


if not TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead, and checks every name
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_MODULES)

"""The agent: the composition root that keeps configuration files in sync with the store.

``Agent(ConfigSource(path, overrides))`` loads ``confagent.toml`` and
``conf.d``, opens the backend and then either runs the daemon (``run``:
one ``PrefixCache`` over the union of the resources' prefixes; each change
re-renders only the resources whose reads it touched, debounced per resource
with ``wait = "min:max"``, all from one revision, applied in one batch),
renders everything once (``run_once``, ``--onetime``), or shows what would
change (``check``, ``render --check``). SIGTERM/SIGINT stop after the batch in
flight; SIGHUP reloads the configuration, keeping the running one when the
new one is broken, and so does a change under ``conf.d`` or ``templates``.
``SystemHost`` is what templates see of the machine. The daemon reports to a
``StatusBoard``, served by the optional ``AgentListener`` (``/health``,
``/metrics``, ``/v1/status``), and to systemd (``SystemdNotifier``).
"""

from confagent.agent._agent import Agent, RunReport
from confagent.agent._daemon import Daemon
from confagent.agent._debounce import Debouncer
from confagent.agent._host import SystemHost
from confagent.agent._hotreload import watch_config
from confagent.agent._listener import AgentListener, StatusApp
from confagent.agent._metrics import AgentMetrics
from confagent.agent._notify import SystemdNotifier
from confagent.agent._setup import ConfigSource, Setup, keep_running, load_setup
from confagent.agent._status import Health, ResourceStatus, StatusBoard
from confagent.agent._sync import Outcome, SyncOptions, log_outcome, sync_resources

__all__ = [
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
    "SyncOptions",
    "SystemHost",
    "SystemdNotifier",
    "keep_running",
    "load_setup",
    "log_outcome",
    "sync_resources",
    "watch_config",
]

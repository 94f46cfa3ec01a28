"""Template resources, pure: a ``conf.d`` file's spec, and the plan to bring its destination in line.

``parse_resource(text, path)`` reads one ``conf.d/*.toml`` file strictly (every
error a ``ConfigError`` naming the file and the key) into a frozen
``ResourceSpec``: confd's ``[template]`` fields (``src dest keys prefix uid gid
mode check_cmd reload_cmd``) plus ``owner``/``group`` names and the fields
confd lacks (``timeout create_dest_dirs backup rollback wait reload_lock
reload_concurrency``).

``plan(spec, rendered, current, target)`` compares a render with what the
destination holds (``FileState``: bytes, owner, group, mode) and returns
``NoChange`` or a ``Replace`` (stage -> check -> rename -> reload, with the
``Difference``s that call for it); ``target_attributes`` picks the owner,
group and mode to aim for. ``plan_diff``/``unified_diff`` show a replace as a
unified diff for noop and check modes. ``fill_command`` fills ``{{.src}}`` and
``{{.dest}}`` into commands. No I/O here: ``confagent.config`` reads the
files, ``confagent.apply`` carries plans out.
"""

from confagent.resource._commands import CHECK_PLACEHOLDERS, RELOAD_PLACEHOLDERS, fill_command
from confagent.resource._diff import plan_diff, unified_diff
from confagent.resource._parse import RESOURCE_FIELDS, parse_resource
from confagent.resource._plan import (
    Difference,
    FileAttributes,
    FileState,
    NoChange,
    Plan,
    Replace,
    plan,
    target_attributes,
)
from confagent.resource._spec import (
    DEFAULT_MODE,
    DEFAULT_TIMEOUT_S,
    MAX_RELOAD_CONCURRENCY,
    MAX_TIMEOUT_S,
    ResourceSpec,
)
from confagent.resource._values import Wait, format_mode, parse_mode, parse_wait

__all__ = [
    "CHECK_PLACEHOLDERS",
    "DEFAULT_MODE",
    "DEFAULT_TIMEOUT_S",
    "MAX_RELOAD_CONCURRENCY",
    "MAX_TIMEOUT_S",
    "RELOAD_PLACEHOLDERS",
    "RESOURCE_FIELDS",
    "Difference",
    "FileAttributes",
    "FileState",
    "NoChange",
    "Plan",
    "Replace",
    "ResourceSpec",
    "Wait",
    "fill_command",
    "format_mode",
    "parse_mode",
    "parse_resource",
    "parse_wait",
    "plan",
    "plan_diff",
    "target_attributes",
    "unified_diff",
]

"""Applying plans to the file system, safely: atomic replace with owner and mode, checked and reloaded.

``plan_file(spec, rendered)`` reads the destination and resolves
``owner``/``group`` names, and returns ``confagent.resource.plan``'s answer.
``apply_batch(plans)`` carries out many plans at once (``ApplyBatch``: the
same, fed one plan at a time while the caller renders): stage every new file
beside its destination, run every ``check_cmd`` concurrently, rename (a file
with no command as soon as it is durable), then run each distinct
``reload_cmd`` once, rolling its destinations back (bytes, owner, mode) if it
fails. It is async so that the agent's loop never waits on a command; commands
(``run_command``) run through ``/bin/sh -c`` with a timeout that kills their
process group, and their output comes back in each ``ApplyResult`` for the
caller to log. Failures are results carrying an ``ApplyError``
(``CheckFailed``, ``ReloadFailed``) that names the destination. A resource
with a ``reload_lock`` is installed and reloaded only inside a slot taken from
the caller's ``ReloadSlots`` (else ``ReloadDeferred``, the destination
untouched).
"""

from typing import TYPE_CHECKING

from confagent.apply._execute import (
    MAX_CONCURRENT_CHECKS,
    ApplyBatch,
    ApplyResult,
    ReloadSlots,
    apply_batch,
    apply_plan,
)
from confagent.apply._files import MAX_FILE_BYTES, destination_path, owner_ids, plan_file, read_file_state
from confagent.apply._staging import MAX_CONCURRENT_STAGES
from confagent.lazy import lazy_exports

if TYPE_CHECKING:
    from confagent.apply._commands import MAX_OUTPUT_BYTES, CommandResult, run_command

__all__ = [
    "MAX_CONCURRENT_CHECKS",
    "MAX_CONCURRENT_STAGES",
    "MAX_FILE_BYTES",
    "MAX_OUTPUT_BYTES",
    "ApplyBatch",
    "ApplyResult",
    "CommandResult",
    "ReloadSlots",
    "apply_batch",
    "apply_plan",
    "destination_path",
    "owner_ids",
    "plan_file",
    "read_file_state",
    "run_command",
]

_LAZY_MODULES = {"MAX_OUTPUT_BYTES": "_commands", "CommandResult": "_commands", "run_command": "_commands"}
"""The runner of ``check_cmd`` and ``reload_cmd``, loaded with the first command run: a pass whose
resources have none does not load it."""

if not TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead
    __getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_MODULES)

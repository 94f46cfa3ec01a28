"""The render history: what the agent did to each file and why, kept in SQLite under its state directory.

``HistoryRecorder`` takes each pass's outcomes from the agent (one
non-blocking call that builds a ``HistoryRecord`` per apply and per refused
apply: the keys read that changed since the resource's previous render, the
file's unified diff, the commands with their exit codes and output tails)
and sends their rows to a writer process of its own (``_writer``), which
stores them in a ``HistoryDb`` (WAL, bounded by age and count); a database
that cannot be written is logged, never raised into an apply.
``read_records`` and ``read_record`` read the file directly (``confagent
history`` without a running agent); the recorder answers the same queries
for the agent's listener and feeds new records to subscribers (the status
page). The record's values, the diff's
cap, the masking of secret values and the bounds are pure (``_record``,
``_build``); the settings are ``confagent.settings.HistoryConfig``.

Every name is loaded from its module on first use (``confagent.lazy``): the
writer process imports ``_writer`` and ``_db`` only, not the renderer.
"""

import typing

from confagent import lazy

if typing.TYPE_CHECKING:
    from confagent.history._build import Applied, ResourceMemory, records_of
    from confagent.history._db import Bounds, HistoryDb
    from confagent.history._query import DEFAULT_LIMIT, read_record, read_records
    from confagent.history._record import (
        MASK,
        RESULTS,
        CommandRecord,
        HistoryRecord,
        Inputs,
        KeyChange,
        changed_keys,
        inputs_of,
        mask,
    )
    from confagent.history._recorder import HistoryRecorder, record_now

__all__ = [
    "DEFAULT_LIMIT",
    "MASK",
    "RESULTS",
    "Applied",
    "Bounds",
    "CommandRecord",
    "HistoryDb",
    "HistoryRecord",
    "HistoryRecorder",
    "Inputs",
    "KeyChange",
    "ResourceMemory",
    "changed_keys",
    "inputs_of",
    "mask",
    "read_record",
    "read_records",
    "record_now",
    "records_of",
]


_LAZY_MODULES = {
    **dict.fromkeys(("Applied", "ResourceMemory", "records_of"), "_build"),
    **dict.fromkeys(("Bounds", "HistoryDb"), "_db"),
    **dict.fromkeys(("DEFAULT_LIMIT", "read_record", "read_records"), "_query"),
    **dict.fromkeys(("MASK", "RESULTS", "CommandRecord", "HistoryRecord", "Inputs", "KeyChange",
                     "changed_keys", "inputs_of", "mask"), "_record"),
    **dict.fromkeys(("HistoryRecorder", "record_now"), "_recorder"),
}

if not typing.TYPE_CHECKING:  # mypy reads the imports under TYPE_CHECKING instead
    __getattr__, __dir__ = lazy.lazy_exports(__name__, globals(), _LAZY_MODULES)

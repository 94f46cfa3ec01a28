"""The render history: what the agent did to each file and why, kept in SQLite under its state directory.

``HistoryRecorder`` takes each pass's outcomes from the agent (one
non-blocking call that builds a ``HistoryRecord`` per apply and per refused
apply: the keys read that changed since the resource's previous render, the
file's unified diff, the commands with their exit codes and output tails)
and writes them on a thread of its own to a ``HistoryDb`` (WAL, bounded by
age and count); a database that cannot be written is logged, never raised
into an apply. ``read_records`` and ``read_record``
read the file directly (``confagent history`` without a running agent); the
recorder answers the same queries for the agent's listener and feeds new
records to subscribers (the status page). The record's values, the diff's
cap, the masking of secret values and the bounds are pure (``_record``,
``_build``); the settings are ``confagent.settings.HistoryConfig``.
"""

from confagent.history._build import Applied, ResourceMemory, records_of
from confagent.history._db import DEFAULT_LIMIT, HistoryDb, read_record, read_records
from confagent.history._record import (
    MASK,
    RESULTS,
    Bounds,
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

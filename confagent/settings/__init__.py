"""Settings, pure: how a setting is read, wherever it comes from (TOML table, flag, environment).

``TableReader`` reads the fields of one TOML table (a ``conf.d`` resource, a
section of ``confagent.toml``, or a command line's values put in that shape)
so that every problem is a ``ConfigError`` naming the file and the key.
``parse_duration`` is the one reading of a duration, Go's ``time.ParseDuration``
grammar or a number of seconds (``go_duration_ns`` is Go's grammar alone).
"""

from confagent.settings._duration import go_duration_ns, parse_duration
from confagent.settings._table import TableReader

__all__ = ["TableReader", "go_duration_ns", "parse_duration"]

"""Settings, pure: each declared once, and read the same way from every source.

A component's settings are a frozen dataclass whose fields are made with
``setting()`` (``_declare``: its help, flag, TOML key and ``Kind``);
``declared(Component)`` lists them, and the TOML loader and
the commands' flags are derived from that. ``TableReader`` reads the fields
of one TOML table (a ``conf.d`` resource, a section of ``confagent.toml``, or
a command line's values put in that shape) so that every problem is a
``ConfigError`` naming the file and the key. ``parse_duration`` is the one
reading of a duration: Go's ``time.ParseDuration`` grammar or a number of
seconds (``go_duration_ns`` is Go's grammar alone).

``StoreConfig`` is a store member's settings (etcd's flags): the store runs
from it, and the agent's configuration and the commands read it, which is
why it is here, below them all, and light to import. ``HistoryConfig`` is the
render history's (``[history]``): the agent writes it, ``confagent history`` reads it.
``FleetConfig`` is the fleet view's (``[fleet]``): whether the agent publishes its summary.
"""

from confagent.settings._auth_token import (
    DEFAULT_JWT_TTL_S,
    JWT_METHODS,
    AuthTokenSpec,
    JwtOptions,
    parse_auth_token,
)
from confagent.settings._declare import Naming, Setting, declared, flag_naming, setting, toml_naming
from confagent.settings._duration import go_duration_ns, go_duration_text, parse_duration
from confagent.settings._fleet import DEFAULT_FLEET_TTL_S, FleetConfig
from confagent.settings._history import (
    DEFAULT_HISTORY_MAX_AGE_S,
    DEFAULT_HISTORY_MAX_DIFF_BYTES,
    DEFAULT_HISTORY_MAX_RECORDS,
    DEFAULT_SECRET_KEYS,
    HISTORY_FILE_NAME,
    HistoryConfig,
)
from confagent.settings._kinds import (
    BOOLEAN,
    COUNT,
    DURATION,
    LIST,
    NEGATABLE,
    PATH,
    PATHS,
    TEXT,
    URLS,
    Kind,
    Read,
    choice,
    parsed,
)
from confagent.settings._store import (
    BCRYPT_COSTS,
    DEFAULT_CLIENT_URLS,
    DEFAULT_PEER_URLS,
    INITIAL_CLUSTER_STATES,
    StoreConfig,
    is_url,
)
from confagent.settings._table import TableReader

__all__ = [
    "BCRYPT_COSTS",
    "BOOLEAN",
    "COUNT",
    "DEFAULT_CLIENT_URLS",
    "DEFAULT_FLEET_TTL_S",
    "DEFAULT_HISTORY_MAX_AGE_S",
    "DEFAULT_HISTORY_MAX_DIFF_BYTES",
    "DEFAULT_HISTORY_MAX_RECORDS",
    "DEFAULT_JWT_TTL_S",
    "DEFAULT_PEER_URLS",
    "DEFAULT_SECRET_KEYS",
    "DURATION",
    "HISTORY_FILE_NAME",
    "INITIAL_CLUSTER_STATES",
    "JWT_METHODS",
    "LIST",
    "NEGATABLE",
    "PATH",
    "PATHS",
    "TEXT",
    "URLS",
    "AuthTokenSpec",
    "FleetConfig",
    "HistoryConfig",
    "JwtOptions",
    "Kind",
    "Naming",
    "Read",
    "Setting",
    "StoreConfig",
    "TableReader",
    "choice",
    "declared",
    "flag_naming",
    "go_duration_ns",
    "go_duration_text",
    "is_url",
    "parse_auth_token",
    "parse_duration",
    "parsed",
    "setting",
    "toml_naming",
]

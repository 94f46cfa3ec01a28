"""``parse_resource``: a ``conf.d/*.toml`` file's text -> ``ResourceSpec``, strictly.

Rules:
1. The file holds exactly one ``[template]`` table and nothing else: a
   second table (confd silently ignores ``[template2]``), an unknown key, a
   typo (``check-cmd``) or a wrong type is an error, never ignored.
2. Every error is a ``ConfigError`` naming the file, the key
   (``template.mode``) and what is wrong; the first problem found is reported.
3. Values are normalized as confd does where confd is sound: a ``prefix``
   gets its leading ``/``; ``src`` is relative to the templates directory.
4. Fields that only mean something together are refused alone:
   ``reload_lock`` needs a ``reload_cmd`` (the slot is held around it), and
   ``reload_concurrency`` (at least 1; 1 when not given) needs ``reload_lock``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from typing import Any

from confagent.errors import ConfigError
from confagent.resource._commands import CHECK_PLACEHOLDERS, RELOAD_PLACEHOLDERS, unknown_placeholders
from confagent.resource._spec import DEFAULT_TIMEOUT_S, MAX_RELOAD_CONCURRENCY, MAX_TIMEOUT_S, ResourceSpec
from confagent.resource._values import parse_mode, parse_wait
from confagent.settings import TableReader, parse_duration

__all__ = ["RESOURCE_FIELDS", "parse_resource"]

RESOURCE_FIELDS = frozenset({
    "src", "dest", "keys", "prefix", "uid", "gid", "owner", "group", "mode", "check_cmd",
    "reload_cmd", "timeout", "create_dest_dirs", "backup", "rollback", "wait", "reload_lock",
    "reload_concurrency",
})
"""The keys a ``[template]`` table may hold."""

_ALIASES = {
    "user": "owner", "perms": "mode", "dst": "dest", "destination": "dest", "source": "src",
    "make_directories": "create_dest_dirs", "command": "reload_cmd", "exec": "reload_cmd",
}
"""Names remco and consul-template use for our fields, for "did you mean" hints."""

_MAX_ID = 2**32 - 2
"""The largest uid or gid (``(uid_t) -1`` means "unchanged" to chown)."""


def parse_resource(text: str, path: str) -> ResourceSpec:
    """Parse one template resource file.

    Args:
        text: the file's content.
        path: the file's name as errors should show it (``conf.d/nginx.toml``).

    Raises:
        ConfigError: invalid TOML, an unknown or missing key, a bad value.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", file=path) from None
    top = TableReader(document, file=path, section="", fields=("template",))
    if not top.has("template"):
        raise top.error("template", "is required: a resource file holds one [template] table")
    if isinstance(document["template"], list):
        raise top.error("template", "holds one [template] table, not [[template]]: "
                                    "write one file per template")
    table = TableReader(top.table_at("template"), file=path, section="template",
                        fields=RESOURCE_FIELDS, aliases=_ALIASES)
    reload_cmd = _read_command(table, "reload_cmd", RELOAD_PLACEHOLDERS)
    return ResourceSpec(
        file=path, src=_read_src(table), dest=_read_dest(table), keys=_read_keys(table),
        prefix=_read_prefix(table), **_read_ownership(table), mode=table.parsed("mode", parse_mode),
        check_cmd=_read_command(table, "check_cmd", CHECK_PLACEHOLDERS),
        reload_cmd=reload_cmd, **_read_reload_lock(table, reload_cmd),
        timeout_s=_read_timeout(table),
        create_dest_dirs=table.boolean("create_dest_dirs", False),
        backup=table.boolean("backup", False),
        rollback=table.boolean("rollback", True),
        wait=table.parsed("wait", parse_wait),
    )


def _read_src(table: TableReader) -> str:
    src = table.required_string("src")
    if src.startswith("/"):
        raise table.error("src", f"{src!r} is absolute; name the template relative to the "
                                 "templates directory (confd joins it to CONFDIR/templates)")
    parts = _segments(src)
    if ".." in parts or not parts:
        raise table.error("src", f"{src!r} must name a file inside the templates directory")
    return "/".join(parts)


def _read_dest(table: TableReader) -> str:
    dest = table.required_string("dest")
    if dest.endswith("/") or not _segments(dest) or _segments(dest)[-1] == "..":
        raise table.error("dest", f"{dest!r} must name a file, not a directory")
    return dest


def _read_keys(table: TableReader) -> tuple[str, ...]:
    keys = table.strings("keys")
    if keys is None:
        raise table.error("keys", 'is required (["/"] for every key under the prefix)')
    if not keys:
        raise table.error("keys", 'must hold at least one key (["/"] for every key under the prefix)')
    for key in keys:
        if not key.startswith("/"):
            raise table.error("keys", f"{key!r} must start with '/'; write \"/{key}\"")
        if ".." in _segments(key):
            raise table.error("keys", f"{key!r} must not contain '..'")
    return keys


def _read_prefix(table: TableReader) -> str:
    prefix = table.string("prefix", "", nonempty=False)
    assert prefix is not None
    if ".." in _segments(prefix):
        raise table.error("prefix", f"{prefix!r} must not contain '..'")
    return prefix if prefix.startswith("/") else "/" + prefix


def _read_ownership(table: TableReader) -> dict[str, Any]:
    """``uid``, ``gid``, ``owner`` and ``group``, as ResourceSpec keywords."""
    fields: dict[str, Any] = {
        "uid": table.integer("uid", minimum=0, maximum=_MAX_ID),
        "gid": table.integer("gid", minimum=0, maximum=_MAX_ID),
        "owner": table.string("owner"),
        "group": table.string("group"),
    }
    for number, name in (("uid", "owner"), ("gid", "group")):
        if fields[number] is not None and fields[name] is not None:
            raise table.error(name, f"give {number} or {name}, not both")
    return fields


def _read_command(table: TableReader, key: str, placeholders: Collection[str]) -> str | None:
    command = table.string(key)
    if command is None:
        return None
    unknown = unknown_placeholders(command, placeholders)
    if unknown:
        known = " and ".join(f"{{{{.{name}}}}}" for name in sorted(placeholders) if name != "dst")
        gone = " (the stage file is gone once the file is replaced)" if key == "reload_cmd" else ""
        raise table.error(key, f"unknown placeholder {unknown[0]}: {key} knows {known}{gone}")
    return command


def _read_reload_lock(table: TableReader, reload_cmd: str | None) -> dict[str, Any]:
    """``reload_lock`` and ``reload_concurrency``, as ResourceSpec keywords (rule 4)."""
    lock = table.string("reload_lock")
    concurrency = table.integer("reload_concurrency", minimum=1, maximum=MAX_RELOAD_CONCURRENCY)
    if lock is None:
        if concurrency is not None:
            raise table.error("reload_concurrency", "is only used with reload_lock (the name of the "
                                                    'slots, e.g. reload_lock = "/locks/nginx")')
        return {}
    if reload_cmd is None:
        raise table.error("reload_lock", "needs a reload_cmd: a slot is taken around the reload")
    return {"reload_lock": lock, "reload_concurrency": 1 if concurrency is None else concurrency}


def _read_timeout(table: TableReader) -> float:
    timeout_s = table.parsed("timeout", parse_duration)
    if timeout_s is None:
        return DEFAULT_TIMEOUT_S
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise table.error("timeout", f"must be more than 0 s and at most {MAX_TIMEOUT_S:.0f} s, "
                                     f"not {timeout_s:g} s")
    return timeout_s


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]

"""A template resource's specification: what one ``conf.d/*.toml`` file asks for.

confd's ``[template]`` fields keep their names and meanings (confd.md §3);
the differences, all on purpose, are listed on ``ResourceSpec``.
"""

from __future__ import annotations

from dataclasses import dataclass

from confagent.resource._values import MAX_MODE, Wait

__all__ = ["DEFAULT_MODE", "DEFAULT_TIMEOUT_S", "MAX_RELOAD_CONCURRENCY", "MAX_TIMEOUT_S", "ResourceSpec"]

DEFAULT_MODE = 0o644
"""The mode of a new file when the resource gives none (confd's)."""
DEFAULT_TIMEOUT_S = 30.0
"""How long ``check_cmd`` and ``reload_cmd`` may run each (consul-template's default)."""
MAX_TIMEOUT_S = 3600.0
"""The longest ``timeout`` a resource may ask for: every command ends."""
MAX_RELOAD_CONCURRENCY = 10_000
"""The most reload slots a ``reload_lock`` may have (``confagent.client.SLOTS_MAX``)."""


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """One template resource: render ``src`` over ``keys`` into ``dest``, check, reload.

    Fields as in confd, except:

    * ``owner``/``group`` (user and group names) are honoured; confd ignores them.
      Each is an alternative to ``uid``/``gid``, not both.
    * Without ``uid``/``owner`` (``gid``/``group``) an existing file keeps its
      owner (group); a new file gets the agent's. confd gives every file the
      agent's effective ids.
    * ``keys`` must start with ``/``; ``src`` must stay inside the templates directory.
    * ``mode`` is octal text only (``"0644"``); without it an existing file
      keeps its mode and a new one gets ``DEFAULT_MODE`` (as confd).
    * ``reload_cmd`` gets ``{{.dest}}``; both commands run with a ``timeout``.

    New fields: ``timeout_s`` (TOML ``timeout``), ``create_dest_dirs``,
    ``backup`` (keep the replaced file as ``dest.bak``), ``rollback`` (restore
    and reload the previous file when ``reload_cmd`` fails; default on) and
    ``wait`` (``"min:max"`` quiescence; None: the agent's default), and
    ``reload_lock`` with ``reload_concurrency``: the name of a semaphore in the
    store of which a slot is held around ``reload_cmd`` (and its rollback), so
    that at most ``reload_concurrency`` hosts of a fleet reload at once.
    """

    file: str
    """The conf.d file this came from, as errors name it."""
    src: str
    """The template, relative to the templates directory (``nginx/site.tmpl``)."""
    dest: str
    keys: tuple[str, ...]
    """Keys relative to ``prefix``, each starting with ``/``."""
    prefix: str = "/"
    """The resource prefix, with a leading ``/``; nested under the agent's global prefix."""
    uid: int | None = None
    gid: int | None = None
    owner: str | None = None
    group: str | None = None
    mode: int | None = None
    """Permission bits, or None to keep the existing file's (``DEFAULT_MODE`` for a new file)."""
    check_cmd: str | None = None
    reload_cmd: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    create_dest_dirs: bool = False
    backup: bool = False
    rollback: bool = True
    wait: Wait | None = None
    reload_lock: str | None = None
    """The semaphore whose slot the reload is run in (None: reload without one)."""
    reload_concurrency: int = 1
    """How many slots ``reload_lock`` has: how many hosts may reload at once."""

    def __post_init__(self) -> None:
        assert self.src and self.dest and self.keys, "src, dest and keys are required"
        assert all(key.startswith("/") for key in self.keys), f"keys must start with '/': {self.keys}"
        assert self.prefix.startswith("/"), f"prefix must start with '/': {self.prefix!r}"
        assert self.uid is None or self.owner is None, "uid and owner exclude each other"
        assert self.gid is None or self.group is None, "gid and group exclude each other"
        assert self.mode is None or 0 <= self.mode <= MAX_MODE, f"mode out of range: {self.mode}"
        assert 0 < self.timeout_s <= MAX_TIMEOUT_S, f"timeout out of range: {self.timeout_s}"
        assert 1 <= self.reload_concurrency <= MAX_RELOAD_CONCURRENCY, \
            f"reload_concurrency out of range: {self.reload_concurrency}"
        assert self.reload_lock is None or (self.reload_lock and self.reload_cmd), \
            "reload_lock is set only with a reload_cmd"

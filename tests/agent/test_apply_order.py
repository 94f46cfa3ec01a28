"""The durable apply's order in a real one-shot, read from its system calls (strace), and a one-shot
SIGKILLed in the middle of a batch.

Stage files are written on threads (confagent.apply._staging), some renamed by those threads, so
the order that makes the batch durable and atomic is checked where it happens, in the kernel's view:
every stage file is written and made durable before it is renamed over its destination, and every
directory is fsynced after its last rename and before any ``reload_cmd`` starts. A stage file is
made durable by its own fsync or, in a directory with ``SYNC_TOGETHER_MIN_FILES`` or more of them,
by a syncfs through that directory (opened before the file was written) and then an fsync of the
directory (``confagent.fsutil`` rule 5), both after its last write and before any rename there.
"""

from __future__ import annotations

import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from confagent.apply._staging import SYNC_TOGETHER_MIN_FILES
from confagent.fsutil import syncfs_reports_errors
from confagent.testing import Processes, confagent_argv, until

RESOURCES_PER_DIRECTORY = 12
SMALL_DIRECTORIES = ("old", "new")
"""The directories whose stage files are fsynced each; ``many`` has theirs synced together."""
_LINE = re.compile(r"^(\d+)\s+(.*)$")
_CALL = re.compile(r"^(\w+)\((.*)$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")


@dataclass(frozen=True)
class Call:
    """One system call as strace saw it end: its place in the order of endings, name, arguments, result."""

    index: int
    name: str
    text: str
    """The arguments and result, as strace printed them (file descriptors with their paths: ``-y``)."""

    @property
    def ok(self) -> bool:
        return self.text.rstrip().endswith("= 0") or re.search(r"= \d+$", self.text.rstrip()) is not None


def calls_of(log: Path) -> list[Call]:
    """Every call of ``strace -f`` output, in the order they ended (an unfinished call ends when resumed)."""
    pending: dict[str, tuple[str, str]] = {}
    ended: list[Call] = []
    for line in log.read_text().splitlines():
        matched = _LINE.match(line)
        if matched is None:
            continue
        pid, rest = matched.groups()
        resumed = _RESUMED.match(rest)
        if resumed is not None:
            name, text = pending.pop(pid, (resumed.group(1), ""))
            ended.append(Call(len(ended), name, text + resumed.group(2)))
            continue
        call = _CALL.match(rest)
        if call is None:
            continue
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (call.group(1), call.group(2).removesuffix("<unfinished ...>"))
        else:
            ended.append(Call(len(ended), call.group(1), call.group(2)))
    return ended


def write_confdir(root: Path, reload_marker: Path | None, *, many: bool = False,
                  **template: str) -> list[Path]:
    """Resources rendering ``/app/v`` into out/old/ (files there already) and out/new/ (made by the run),
    and with ``many`` ``SYNC_TOGETHER_MIN_FILES`` more into out/many/, each reloading with ``touch
    reload_marker`` (none: no command, so renamed as soon as it is durable)."""
    (root / "conf.d").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / "t.tmpl").write_text("v={{ getv('/app/v') }}\n")
    (root / "keys.yaml").write_text("app:\n  v: two\n")
    (root / "out" / "old").mkdir(parents=True)
    counts = {directory: RESOURCES_PER_DIRECTORY for directory in SMALL_DIRECTORIES}
    if many:
        counts["many"] = SYNC_TOGETHER_MIN_FILES
    dests = []
    for directory, count in counts.items():
        for index in range(count):
            dest = root / "out" / directory / f"f{index:02d}.conf"
            if directory == "old":
                dest.write_text("v=one\n")
            extra = "".join(f'{key} = "{value}"\n' for key, value in template.items())
            reload = "" if reload_marker is None else f'reload_cmd = "touch {reload_marker}"\n'
            (root / "conf.d" / f"{directory}{index:02d}.toml").write_text(
                f'[template]\nsrc = "t.tmpl"\ndest = "{dest}"\nkeys = ["/app"]\ncreate_dest_dirs = true\n'
                f'{reload}{extra}')
            dests.append(dest)
    return dests


def strace_binary() -> str:
    binary = shutil.which("strace")
    if binary is None:
        pytest.fail("strace is not installed: apt-get install strace (scripts/test does)")
    return binary


@pytest.mark.parametrize("reload", [True, False], ids=["reloaded", "no-command"])
def test_each_file_is_durable_before_its_rename_and_each_directory_before_the_reload(
        processes: Processes, tmp_path: Path, reload: bool) -> None:
    """Without any command a file is renamed as soon as it is durable (confagent.apply, phase 1): the
    same order holds, and its directory is fsynced once, after the last of them; a directory whose
    files were synced together is fsynced once more, before its first rename."""
    marker, log = tmp_path / "reload-marker", tmp_path / "strace.log"
    dests = write_confdir(tmp_path, marker if reload else None, many=True)
    argv = [strace_binary(), "-f", "-qq", "-y", "-s", "4096", "-o", str(log),
            "-e", "trace=openat,write,fsync,fdatasync,syncfs,rename,renameat,renameat2,execve",
            *confagent_argv("run", "--onetime", "--confdir", str(tmp_path), "--backend", "file",
                            "--file", str(tmp_path / "keys.yaml"), "--log-level", "warning")]
    done = processes.run(argv)
    assert done.returncode == 0, done.stderr.decode()
    assert [dest.read_text() for dest in dests] == ["v=two\n"] * len(dests) and marker.exists() == reload
    calls = calls_of(log)
    reloads = [call.index for call in calls if call.name == "execve" and str(marker) in call.text]
    assert bool(reloads) == reload
    for dest in dests:
        rename = next(call for call in calls if call.name.startswith("rename") and f'"{dest}"' in call.text)
        assert rename.ok, rename
        stage = re.search(r'"([^"]+\.stage)"', rename.text)
        assert stage is not None, rename
        fd_path = f"<{stage.group(1)}>"
        writes = [call.index for call in calls if call.name == "write" and fd_path in call.text]
        synced, durable = durable_at(calls, dest.parent, fd_path)
        assert writes and max(writes) < synced <= durable < rename.index, (dest, writes, synced, rename)
    for directory in {dest.parent for dest in dests}:
        renames = [call.index for call in calls
                   if call.name.startswith("rename") and f'"{directory}/' in call.text.split(", ")[-1]]
        syncs = [call for call in calls if call.name == "fsync" and f"<{directory}>" in call.text]
        assert all(sync.ok for sync in syncs), syncs
        if directory.name in SMALL_DIRECTORIES:
            assert len(syncs) == 1, (directory, syncs)
        else:  # the barrier after the syncfs, before any rename
            assert len(syncs) == 2 and syncs[0].index < min(renames), (directory, syncs)
        assert max(renames) < syncs[-1].index < min(reloads, default=len(calls)), (directory, syncs)


def durable_at(calls: list[Call], directory: Path, fd_path: str) -> tuple[int, int]:
    """Where the stage file open as ``fd_path`` was synced and where it was durable: its own fsync
    (both), or a syncfs through its directory and the fsync of the directory after it (fsutil rule 5:
    the many directory's way, where the kernel's syncfs reports write errors)."""
    fsyncs = [call.index for call in calls if call.name == "fsync" and fd_path in call.text and call.ok]
    if fsyncs and (directory.name in SMALL_DIRECTORIES or not syncfs_reports_errors()):
        return fsyncs[0], fsyncs[0]
    syncfs = next(call for call in calls if call.name == "syncfs" and f"<{directory}>" in call.text)
    assert syncfs.ok and directory.name not in SMALL_DIRECTORIES and not fsyncs, (syncfs, fsyncs)
    return syncfs.index, next(call.index for call in calls[syncfs.index:]
                              if call.name == "fsync" and f"<{directory}>" in call.text and call.ok)


def test_a_one_shot_killed_before_its_renames_leaves_every_file_as_it_was(processes: Processes,
                                                                         tmp_path: Path) -> None:
    """SIGKILLed while its checks run (every stage file written, none renamed): each destination is
    the old file, whole; the next run replaces them all."""
    marker, started = tmp_path / "reload-marker", tmp_path / "checking"
    dests = write_confdir(tmp_path, marker, check_cmd=f"touch {started}; sleep 60")
    common = ("--confdir", str(tmp_path), "--backend", "file", "--file", str(tmp_path / "keys.yaml"))
    process = processes.popen(confagent_argv("run", "--onetime", *common), start_new_session=True)
    until(started.exists, "a check_cmd to start")
    process.send_signal(signal.SIGKILL)
    process.wait()
    stages = list((tmp_path / "out").rglob("*.stage"))
    assert stages and all(path.read_text() == "v=two\n" for path in stages)
    old, new = dests[:RESOURCES_PER_DIRECTORY], dests[RESOURCES_PER_DIRECTORY:]
    assert [dest.read_text() for dest in old] == ["v=one\n"] * len(old)
    assert not any(dest.exists() for dest in new) and not marker.exists()
    for path in (tmp_path / "conf.d").iterdir():
        path.write_text(path.read_text().replace(f'check_cmd = "touch {started}; sleep 60"\n', ""))
    done = processes.confagent("run", "--onetime", *common)
    assert done.returncode == 0, done.stderr
    assert [dest.read_text() for dest in dests] == ["v=two\n"] * len(dests) and marker.exists()

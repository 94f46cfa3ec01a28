"""The ``confagent`` program's end (``confagent.cli._process_end``): a one-shot ends at once, once every
exit handler has run and stdout and stderr are flushed, with its exit code; anything else ends as
``sys.exit`` does.

Each case is a fresh interpreter running the program. An object that only the interpreter's teardown frees (an
entry of ``sys.modules``) says ``torn down`` as it goes: a quick end never says it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from confagent.testing import Processes

ROOT = Path(__file__).resolve().parents[2]
TORN_DOWN = "torn down"

_END = "from confagent.cli._process_end import end_process, end_quickly\n"
_PREAMBLE = f"""\
import atexit, os, sys, threading
class Torn:
    def __del__(self): os.write(1, b"{TORN_DOWN}\\n")
sys.modules["torn"] = Torn()
atexit.register(lambda: print("first handler", end=""))
atexit.register(lambda: sys.stderr.write("second handler"))
"""
"""A program's first lines: an object for the teardown, two exit handlers writing without a newline."""


def _program(processes: Processes, lines: str, argv: list[str] | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``_PREAMBLE`` + ``lines`` run with ``argv`` as its command line."""
    code = f"{_PREAMBLE}sys.argv = ['confagent', *{argv or []!r}]\n{lines}"
    done = processes.run([sys.executable, "-c", code], cwd=ROOT, timeout_s=60)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def _one_shot(tmp_path: Path, *command: str) -> list[str]:
    """``command`` rendering ``/x`` (``none``) from a file backend into ``t.conf``, which says ``old``."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.tmpl").write_text("{{ getv('/x', 'none') }}\n")
    (tmp_path / "conf.d" / "t.toml").write_text(
        f'[template]\nsrc = "t.tmpl"\ndest = "{tmp_path / "t.conf"}"\nkeys = ["/x"]\n')
    (tmp_path / "t.conf").write_text("old\n")
    (tmp_path / "data.yaml").write_text("y: 1\n")
    return [*command, "--confdir", str(tmp_path), "--backend", "file", "--file", str(tmp_path / "data.yaml"),
            "--log-level", "warning"]


@pytest.mark.parametrize(("command", "exit_code"), [(("render", "--check"), 2), (("run", "--onetime"), 0)],
                         ids=lambda value: " ".join(value) if isinstance(value, tuple) else str(value))
def test_a_one_shot_ends_at_once_after_its_exit_handlers(processes: Processes, tmp_path: Path,
                                                         command: tuple[str, ...], exit_code: int) -> None:
    argv = _one_shot(tmp_path, *command)
    code, out, err = _program(processes, "from confagent.cli import run_program\nrun_program()", argv)
    assert code == exit_code, err
    assert out.endswith("first handler")  # after the pass's own output, flushed; no teardown
    assert err.endswith("second handler")
    assert TORN_DOWN not in out
    changed = "+none" in out
    assert changed == (command[0] == "render")
    assert (tmp_path / "t.conf").read_text() == ("old\n" if changed else "none\n")


def test_a_one_shot_with_a_thread_left_running_ends_as_sys_exit_does(processes: Processes,
                                                                     tmp_path: Path) -> None:
    # the interpreter joins the thread before the exit handlers: released once run_program has decided
    lines = ("release = threading.Event()\n"
             "threading.Thread(target=lambda: (release.wait(), print('thread done'))).start()\n"
             "from confagent.cli import run_program\n"
             "try:\n    run_program()\nfinally:\n    release.set()\n")
    code, out, err = _program(processes, lines, _one_shot(tmp_path, "render", "--check"))
    assert code == 2, err
    assert out.splitlines()[-2:] == ["thread done", f"first handler{TORN_DOWN}"]
    assert err.endswith("second handler")


def test_a_one_shot_whose_stdout_fails_to_flush_ends_as_sys_exit_does(processes: Processes) -> None:
    # a buffered stdout on /dev/full, where every write fails (ENOSPC): the interpreter's own end reports it,
    # with its exit code 120
    lines = ("import io\nsys.stdout = io.TextIOWrapper(open('/dev/full', 'wb'))\n"
             f"{_END}end_quickly()\nend_process(0)\n")
    code, _out, err = _program(processes, lines)
    assert code == 120
    assert "second handler" in err
    assert "Exception ignored in: <_io.TextIOWrapper name='/dev/full'" in err


def test_a_command_not_asking_for_a_quick_end_ends_as_sys_exit_does(processes: Processes) -> None:
    code, out, err = _program(processes, f"{_END}end_process(3)\n")
    assert (code, out, err) == (3, f"first handler{TORN_DOWN}\n", "second handler")

"""``go_templates``: Go's text/template with confd's functions (gotemplate.go), built once per session."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from confagent.testing import Processes

SOURCE = Path(__file__).with_name("gotemplate.go")
BUILD_TIMEOUT_S = 300.0
_GO_LINE = re.compile(r"^template: [^:]*:(\d+):")


@dataclass(frozen=True)
class GoResult:
    output: str
    error: str | None
    stage: str | None
    """Where ``error`` happened: ``parse`` or ``execute``."""

    @property
    def error_line(self) -> int | None:
        """The line a parse error names (``template: NAME:LINE: ...``)."""
        found = _GO_LINE.match(self.error or "")
        return int(found.group(1)) if found else None


@dataclass(frozen=True)
class GoTemplates:
    """Runs templates through the Go program: each with no data, over ``keys`` and ``env``."""

    binary: Path
    processes: Processes

    def run(self, templates: Mapping[str, str], keys: Mapping[str, str],
            env: Mapping[str, str] | None = None) -> dict[str, GoResult]:
        document = {"keys": dict(keys), "env": dict(env or {}),
                    "cases": [{"name": name, "template": text} for name, text in templates.items()]}
        done = self.processes.run([str(self.binary)], input=json.dumps(document).encode())
        assert done.returncode == 0, done.stderr.decode()
        answers = json.loads(done.stdout)
        return {name: GoResult(answer["output"], answer.get("error"), answer.get("stage"))
                for name, answer in answers.items()}

    def outputs(self, templates: Mapping[str, str], keys: Mapping[str, str],
                env: Mapping[str, str] | None = None) -> dict[str, str]:
        """Each template's output; an assertion error naming the ones Go failed."""
        results = self.run(templates, keys, env)
        failed = {name: result.error for name, result in results.items() if result.error}
        assert not failed, failed
        return {name: result.output for name, result in results.items()}


def _go_binary() -> str:
    binary = shutil.which("go") or "/usr/bin/go"
    if not Path(binary).exists():
        pytest.fail("Go is missing: install Debian's golang-go (scripts/test does, as root)")
    return binary


@pytest.fixture(scope="session")
def go_templates(tmp_path_factory: pytest.TempPathFactory, session_processes: Processes) -> GoTemplates:
    """gotemplate.go built with Debian's Go (standard library only, nothing downloaded)."""
    folder = tmp_path_factory.mktemp("gotemplate")
    shutil.copy(SOURCE, folder / "main.go")
    env = {"GO111MODULE": "off", "GOFLAGS": "", "GOPROXY": "off", "GOPATH": str(folder / "gopath"),
           "GOCACHE": os.environ.get("GOCACHE") or str(Path.home() / ".cache" / "go-build")}
    done = session_processes.run([_go_binary(), "build", "-o", str(folder / "gotemplate"), "main.go"],
                                 cwd=folder, env=env, timeout_s=BUILD_TIMEOUT_S)
    assert done.returncode == 0, done.stderr.decode()
    return GoTemplates(folder / "gotemplate", session_processes)


def go_sequence(items: Sequence[str]) -> dict[str, str]:
    """Templates named by their index, for a batch run."""
    return {str(index): text for index, text in enumerate(items)}

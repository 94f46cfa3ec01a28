"""``confagent convert``: a confd confdir's templates converted and its resources carried over; what
cannot be converted reported and left out; ``--check``; the input never written to. End to end: the
converted confdir rendered by ``confagent run --onetime`` gives the bytes Go's text/template gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from confagent.cli import main
from confagent.testing import Processes
from tests.convert.conftest import GoTemplates
from tests.convert.corpus import CASES, ENV, KEYS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "confd"
GOOD = '{{range gets "/app/*"}}{{.Key}}={{.Value}}\n{{end}}'


def confdir(root: Path, templates: dict[str, str], resources: dict[str, str] | None = None) -> Path:
    """``root`` holding ``templates/`` and ``conf.d/`` (one resource per template unless given)."""
    for name, text in templates.items():
        (root / "templates" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "templates" / name).write_text(text)
    (root / "conf.d").mkdir(parents=True, exist_ok=True)
    for name, text in (resources if resources is not None else {
            f"{Path(name).stem}.toml": f'[template]\nsrc = "{name}"\ndest = "/tmp/{Path(name).stem}"\n'
                                       f'keys = ["/app"]\n' for name in templates}).items():
        (root / "conf.d" / name).write_text(text)
    return root


def files(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file()}


def test_templates_are_converted_and_resources_copied(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    source = confdir(tmp_path / "confd", {"a.tmpl": GOOD, "sub/b.tmpl": "{{getv \"/app/x\"}}\n"})
    assert main(["convert", str(source), "--out", str(tmp_path / "out")]) == 0
    written = files(tmp_path / "out")
    assert sorted(written) == ["conf.d/a.toml", "conf.d/b.toml", "templates/a.tmpl", "templates/sub/b.tmpl"]
    assert written["conf.d/b.toml"] == (source / "conf.d/b.toml").read_bytes()
    assert written["templates/sub/b.tmpl"].decode().endswith('{{ getv("/app/x") }}\n')
    assert capsys.readouterr().out == f"converted 2 template(s) and 2 resource(s) into {tmp_path / 'out'}\n"


def test_what_cannot_be_converted_is_reported_and_left_out(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    source = confdir(tmp_path / "confd", {"good.tmpl": GOOD, "print.tmpl": 'x\n{{print "a" 1}}\n',
                                          "broken.tmpl": "ok\n{{if true}}\n"})
    before = files(source)
    assert main(["convert", str(source), "--out", str(tmp_path / "out")]) == 2
    assert sorted(files(tmp_path / "out")) == ["conf.d/good.toml", "templates/good.tmpl"]
    assert capsys.readouterr().err.splitlines() == [
        "templates/broken.tmpl:3:1: unexpected EOF",
        "templates/print.tmpl:2:3: print (fmt.Sprint's spacing rules) has no faithful Jinja form",
        "conf.d/broken.toml: not carried over: its template templates/broken.tmpl was not converted",
        "conf.d/print.toml: not carried over: its template templates/print.tmpl was not converted",
    ]
    assert files(source) == before


def test_check_writes_nothing_and_says_whether_anything_would_be_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = confdir(tmp_path / "clean", {"a.tmpl": GOOD})
    assert main(["convert", str(clean), "--check"]) == 0
    assert capsys.readouterr().out == "would convert 1 template(s) and 1 resource(s)\n"
    unclean = confdir(tmp_path / "unclean", {"a.tmpl": "{{.}}"})
    assert main(["convert", str(unclean), "--check"]) == 2
    assert "templates/a.tmpl:1:3: uses dot" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clean", "unclean"]


def test_the_default_out_is_beside_the_confdir(tmp_path: Path) -> None:
    source = confdir(tmp_path / "confd", {"a.tmpl": GOOD})
    assert main(["convert", str(source)]) == 0
    assert sorted(files(tmp_path / "confd.confagent")) == ["conf.d/a.toml", "templates/a.tmpl"]


@pytest.mark.parametrize("out", ["confd", "confd/out", ".", "full"])
def test_the_input_is_never_written_to(tmp_path: Path, out: str, capsys: pytest.CaptureFixture[str]) -> None:
    source = confdir(tmp_path / "confd", {"a.tmpl": GOOD})
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("mine")
    before = files(tmp_path)
    assert main(["convert", str(source), "--out", str(tmp_path / out)]) == 1
    assert capsys.readouterr().err.startswith(f"Error: {tmp_path / out}: ")
    assert files(tmp_path) == before


def test_a_directory_that_is_not_a_confdir_is_an_error(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(tmp_path)]) == 1
    assert "not a confd confdir" in capsys.readouterr().err


def test_a_converted_confdir_renders_what_go_renders(go_templates: GoTemplates, processes: Processes,
                                                     tmp_path: Path) -> None:
    """Every corpus case as a resource over /app, and examples/confd over /myapp, converted and rendered
    from the file backend by ``confagent run --onetime``: Go's bytes."""
    source = tmp_path / "confd"
    shutil.copytree(EXAMPLE, source)
    resource = source / "conf.d" / "myapp.toml"
    resource.write_text(resource.read_text().replace("out/myapp.conf", str(tmp_path / "myapp.conf")))
    confdir(source, {f"{case.name}.tmpl": case.template for case in CASES}, {
        f"{case.name}.toml": f'[template]\nsrc = "{case.name}.tmpl"\ndest = "{tmp_path / case.name}"\n'
                             f'keys = ["/app"]\n' for case in CASES})
    example_keys = {"/database/url": "db.example.com:5432", "/database/user": "app",
                    "/upstreams/a": "10.0.0.1:80", "/upstreams/b": "10.0.0.2:80",
                    "/features": '{"tracing": true, "cache": false}'}
    data = tmp_path / "keys.yaml"  # JSON is YAML
    data.write_text(json.dumps(_nested({**KEYS, **{f"/myapp{key}": value for key, value in
                                                   example_keys.items()}})))
    converted = processes.confagent("convert", str(source), "--out", str(tmp_path / "out"))
    assert converted.returncode == 0, converted.stderr
    ran = processes.confagent("run", "--onetime", "--confdir", str(tmp_path / "out"), "--backend", "file",
                              "--file", str(data), env=ENV)
    assert ran.returncode == 0, ran.stderr
    template = (EXAMPLE / "templates" / "myapp.conf.tmpl").read_text()
    go = go_templates.outputs({"myapp": template}, example_keys)
    assert (tmp_path / "myapp.conf").read_bytes().decode() == go["myapp"]
    assert {case.name: (tmp_path / case.name).read_bytes().decode() for case in CASES} == {
        case.name: case.expected for case in CASES}


def _nested(keys: dict[str, str]) -> dict[str, object]:
    tree: dict[str, object] = {}
    for key, value in keys.items():
        *parents, leaf = key.strip("/").split("/")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = value
    return tree


def test_registering_the_command_loads_no_converter(processes: Processes) -> None:
    from tests.agent.test_imports import modules_after  # noqa: PLC0415 - its helper, not its tests

    loaded = modules_after(processes, "from confagent.cli import _convert_cmd")
    assert "confagent.convert" not in loaded

"""``confagent convert CONFDIR [--out DIR] [--check]``: a confd confdir with its Go templates, as Jinja.

Rules:
1. Every file under ``CONFDIR/templates`` is converted by
   ``confagent.convert`` and written under the same name in ``DIR/templates``;
   every ``*.toml`` under ``CONFDIR/conf.d`` is copied byte for byte to
   ``DIR/conf.d`` (its ``src`` names the converted template).
2. A template with a Go syntax error, or with a construct that has no
   faithful Jinja form, is reported (``templates/x.tmpl:LINE:COLUMN: what``,
   on stderr) and not written, nor are the resources using it: nothing is
   silently changed. The exit code is then 2; 0 when everything converted.
3. ``--check`` writes nothing and exits 2 if anything would be reported.
4. The input is never written to: ``DIR`` (default ``CONFDIR.confagent``, next
   to CONFDIR) must not exist, or be empty, and must not be inside CONFDIR
   nor hold it. It is filled in a hidden directory beside it, then renamed,
   so it appears whole or not at all.
5. Registering the command imports nothing beyond the standard library's
   basics: the converter, tomllib and tempfile load when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from confagent.cli._common import Subparsers
from confagent.errors import ConfigError, RenderError

__all__ = ["EXIT_REPORTED", "register"]

EXIT_REPORTED = 2
"""Something was (or, with ``--check``, would be) reported and left unconverted."""
OUT_SUFFIX = ".confagent"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "convert", help="convert a confd confdir's Go templates into Jinja (conf.d carried over)",
        description="Convert the Go templates of a confd confdir (conf.d/ and templates/) into Jinja "
                    "templates that render the same bytes, copying conf.d's resources. What cannot be "
                    "converted faithfully is reported with its file, line and column and left out. "
                    "Exit code 0 (all converted), 2 (something reported) or 1 (error).")
    parser.add_argument("confdir", type=Path, metavar="CONFDIR", help="confd's confdir (conf.d/, templates/)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help=f"where to write (default: CONFDIR{OUT_SUFFIX}); must not exist or be empty")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 2 if anything would be reported")
    parser.set_defaults(handler=_convert)


@dataclass
class _Plan:
    """What the conversion writes (relative path -> bytes) and what it reports."""

    files: dict[str, bytes] = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)
    templates: int = 0
    resources: int = 0


def _convert(args: argparse.Namespace) -> int:
    confdir: Path = args.confdir
    if not (confdir / "templates").is_dir() and not (confdir / "conf.d").is_dir():
        raise ConfigError("has neither conf.d/ nor templates/: not a confd confdir", file=str(confdir))
    out: Path = args.out or confdir.with_name(confdir.name + OUT_SUFFIX)
    if not args.check:
        _check_out(confdir, out)
    plan = _plan(confdir)
    for report in plan.reports:
        print(report, file=sys.stderr)
    verb = "would convert" if args.check else "converted"
    if not args.check:
        _write(out, plan.files)
    where = "" if args.check else f" into {out}"
    reported = f"; {len(plan.reports)} reported" if plan.reports else ""
    print(f"{verb} {plan.templates} template(s) and {plan.resources} resource(s){where}{reported}")
    return EXIT_REPORTED if plan.reports else 0


def _check_out(confdir: Path, out: Path) -> None:
    source, target = confdir.resolve(), out.resolve()
    if target == source or source in target.parents or target in source.parents:
        raise ConfigError("must be outside CONFDIR (the input is never written to)", file=str(out))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError("exists and is not an empty directory: choose another --out", file=str(out))


def _plan(confdir: Path) -> _Plan:
    from confagent.convert import convert_template  # noqa: PLC0415 - only when the command runs

    plan = _Plan()
    unconverted: set[str] = set()
    templates_dir = confdir / "templates"
    for path in _files(templates_dir, "*"):
        name = path.relative_to(templates_dir).as_posix()
        shown = f"templates/{name}"
        try:
            conversion = convert_template(path.read_bytes().decode("utf-8"), shown)
        except UnicodeDecodeError as error:
            plan.reports.append(f"{shown}: not UTF-8 text (byte {error.start})")
            unconverted.add(name)
            continue
        except RenderError as error:  # a Go syntax error: its message starts with the column
            plan.reports.append(f"{shown}:{error.line}:{error.message}")
            unconverted.add(name)
            continue
        if conversion.jinja is None:
            plan.reports.extend(f"{shown}:{finding}" for finding in conversion.findings)
            unconverted.add(name)
            continue
        plan.files[shown] = conversion.jinja.encode()
        plan.templates += 1
    _plan_resources(confdir, plan, unconverted)
    return plan


def _plan_resources(confdir: Path, plan: _Plan, unconverted: set[str]) -> None:
    import tomllib  # noqa: PLC0415 - only when the command runs

    resources_dir = confdir / "conf.d"
    for path in _files(resources_dir, "*toml"):
        shown = f"conf.d/{path.relative_to(resources_dir).as_posix()}"
        data = path.read_bytes()
        try:
            src = tomllib.loads(data.decode()).get("template", {}).get("src")
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            plan.reports.append(f"{shown}: not carried over: not valid TOML: {error}")
            continue
        if isinstance(src, str) and os.path.normpath(src).lstrip("/") in unconverted:
            plan.reports.append(f"{shown}: not carried over: its template templates/{src} was not converted")
            continue
        plan.files[shown] = data
        plan.resources += 1


def _files(folder: Path, pattern: str) -> list[Path]:
    """Files under ``folder`` matching ``pattern``, sorted; hidden ones (editors' litter) left out."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.rglob(pattern) if path.is_file()
                  and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def _write(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a hidden directory beside ``out``, then rename it to ``out``."""
    import shutil  # noqa: PLC0415 - only when the command runs
    import tempfile  # noqa: PLC0415

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for relative, data in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        staging.chmod(0o755)  # mkdtemp made it private; it becomes an ordinary directory
        if out.exists():
            out.rmdir()  # empty, as _check_out made sure
        staging.rename(out)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ConfigError(f"cannot write: {error.strerror}", file=str(out)) from None

"""The tree of a Go template, as Go's text/template/parse draws it (only what the converter needs).

Rules:
1. A template is a ``list[Node]``; control nodes hold their branches as lists.
   ``{{else if}}`` is an ``If`` inside the ``else_body`` of another, as Go parses it.
2. A pipeline is its declared variables and its commands; a command is its
   operands, the first one applied to the rest when it is a function or a
   method; the value of each command is the last argument of the next.
3. Every node carries ``at``: the line and column where it starts in its file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Action", "Bool", "Break", "Chain", "Command", "Continue", "Dot", "Field", "Identifier", "If", "Nil",
    "Node", "Number", "Operand", "Pipeline", "Position", "Range", "StringLit", "Template", "Text", "Tree",
    "Variable", "With",
]

Position = tuple[int, int]
"""(line, column), both 1-based."""


@dataclass(frozen=True, slots=True)
class Text:
    at: Position
    text: str


@dataclass(frozen=True, slots=True)
class Dot:
    at: Position


@dataclass(frozen=True, slots=True)
class Nil:
    at: Position


@dataclass(frozen=True, slots=True)
class Bool:
    at: Position
    value: bool


@dataclass(frozen=True, slots=True)
class Number:
    at: Position
    value: int | float
    text: str


@dataclass(frozen=True, slots=True)
class StringLit:
    at: Position
    value: str


@dataclass(frozen=True, slots=True)
class Identifier:
    """A function's name."""

    at: Position
    name: str


@dataclass(frozen=True, slots=True)
class Variable:
    """``$name`` (``$`` alone is the name ``$``), then fields: ``$x.A.B``."""

    at: Position
    name: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Field:
    """``.A.B``: fields of dot."""

    at: Position
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Chain:
    """Fields of another operand's value: ``(getv "/a").B``."""

    at: Position
    node: Operand
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Command:
    at: Position
    args: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Pipeline:
    at: Position
    declared: tuple[str, ...] = ()
    """Variables set by this pipeline (``$x :=`` or, in a range, ``$i, $v :=``)."""
    assigns: bool = False
    """``$x = ...``: the variable exists already."""
    commands: tuple[Command, ...] = ()


Operand = Dot | Nil | Bool | Number | StringLit | Identifier | Variable | Field | Chain | Pipeline


@dataclass(frozen=True, slots=True)
class Action:
    """``{{pipeline}}``: printed, unless it declares or assigns a variable."""

    at: Position
    pipe: Pipeline


@dataclass(frozen=True, slots=True)
class If:
    at: Position
    pipe: Pipeline
    body: list[Node]
    else_body: list[Node] | None = None


@dataclass(frozen=True, slots=True)
class Range:
    at: Position
    pipe: Pipeline
    body: list[Node]
    else_body: list[Node] | None = None


@dataclass(frozen=True, slots=True)
class With:
    at: Position
    pipe: Pipeline
    body: list[Node]
    else_body: list[Node] | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """``{{template "name" pipeline}}`` (and the call half of ``block``)."""

    at: Position
    name: str
    pipe: Pipeline | None


@dataclass(frozen=True, slots=True)
class Break:
    at: Position


@dataclass(frozen=True, slots=True)
class Continue:
    at: Position


Node = Text | Action | If | Range | With | Template | Break | Continue


@dataclass
class Tree:
    """A parsed file: its main body and the templates it defines (``define`` and ``block``)."""

    body: list[Node]
    defines: dict[str, list[Node]] = field(default_factory=dict)
    defined_at: dict[str, Position] = field(default_factory=dict)

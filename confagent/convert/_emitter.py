"""The emitter: a Go template's tree -> Jinja for confagent's render environment, same bytes out.

Rules (the environment is confagent.render's: ``trim_blocks``, ``lstrip_blocks``,
``StrictUndefined``, the final newline kept, booleans printed as Go does):
1. Text is copied as it is; a ``{`` that would open a Jinja tag and every CR
   are written as ``{{ "{" }}`` and ``{{ "\\r" }}`` (Jinja would read the one
   and turn the other into LF). Trim markers were applied by the lexer.
2. Every statement is ``{%+ ... +%}``: the plus signs turn ``lstrip_blocks`` and
   ``trim_blocks`` off for it, so no whitespace of the text moves.
3. Each declaration of a Go variable is a Jinja name of its own (``$x`` is
   ``x``, a second ``$x`` ``x_7``), so Go's scoping holds; a variable that
   some ``$x = ...`` assigns lives in one Jinja ``namespace`` (``_go.x_3``), so
   that an assignment inside a ``range`` changes it outside, as in Go.
4. ``if``/``with`` test Python's truth, which is Go's for the values confd's
   functions give (empty strings, lists, maps, zero, false, nil);
   ``and``/``or`` are Jinja's, which return an operand and stop early, as Go
   1.18+; ``eq a b c`` is ``a in (b, c)``.
5. ``range`` walks a list with its index, a map by its sorted keys (Go's
   order), and ``{{else}}`` is Jinja's ``for ... else``.
6. ``define``/``block`` become macros written first in the output; ``template``
   calls one with its dot.
7. A value prints as it is when it is a string, int or bool; anything else
   through ``printf("%v", ...)``, Go's printing.
8. What has no faithful form is a ``Finding`` at its line and column; a file
   with any finding is not converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from confagent.convert._functions import (
    DIRECT_PRINT,
    ELEMENT_KINDS,
    FUNCTIONS,
    LENIENT_DNS,
    RESULT_KINDS,
    UNSUPPORTED,
)
from confagent.convert._nodes import (
    Action,
    Bool,
    Break,
    Chain,
    Command,
    Continue,
    Dot,
    Field,
    Identifier,
    If,
    Nil,
    Node,
    Number,
    Operand,
    Pipeline,
    Position,
    Range,
    StringLit,
    Template,
    Text,
    Tree,
    Variable,
    With,
)

__all__ = ["Finding", "emit"]

_NAMESPACE = "_go"
_RESERVED = FUNCTIONS | {
    "range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop", "caller", "varargs", "kwargs", "self",
    "super", "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else",
}
"""Names a Go variable's Jinja name may not take: the environment's functions, Jinja's globals and words."""
_TOP_DOT = "top"
"""The kind of dot and ``$`` at the top of a confd template: confd executes it with no data (nil)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A construct with no faithful Jinja form, where it is."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True, slots=True)
class _Expr:
    code: str
    kind: str
    """``str int float bool nil map kv time any`` or a list kind of ``ELEMENT_KINDS``, or ``top``."""


class _Emitter:
    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.ids = count(1)
        self.findings: list[Finding] = []
        self.macros = {name: f"_tpl{index}" for index, name in enumerate(tree.defines, start=1)}
        self.scopes: list[dict[str, _Expr]] = []
        self.dot = _Expr("none", _TOP_DOT)
        self.assigned = _assigned(tree)
        self.used: set[str] = set()

    def report(self, at: Position, message: str) -> None:
        self.findings.append(Finding(at[0], at[1], message))

    def document(self) -> str:
        namespace = _tag(f"set {_NAMESPACE} = namespace()") if self.assigned else ""
        out = [namespace]
        for name, body in self.tree.defines.items():
            out.append(_tag(f"macro {self.macros[name]}(_dot)") + namespace)
            out.append(self.scoped(_Expr("_dot", "any"), body))
            out.append(_tag("endmacro"))
        out.append(self.scoped(_Expr("none", _TOP_DOT), self.tree.body))
        return "".join(out)

    def scoped(self, dot: _Expr, body: list[Node]) -> str:
        """``body`` with ``dot`` as dot and ``$``, in a fresh variable scope."""
        saved = self.scopes, self.dot
        self.scopes, self.dot = [{"$": dot}], dot
        try:
            return self.nodes(body)
        finally:
            self.scopes, self.dot = saved

    # statements
    def nodes(self, nodes: list[Node]) -> str:
        self.scopes.append({})
        try:
            return "".join(self.node(node) for node in nodes)
        finally:
            self.scopes.pop()

    def node(self, node: Node) -> str:
        match node:
            case Text():
                return _text(node.text)
            case Action():
                return self.action(node)
            case If():
                return self.if_node(node)
            case With():
                return self.with_node(node)
            case Range():
                return self.range_node(node)
            case Template():
                return self.template(node)
            case Break():
                return _tag("break")
            case Continue():
                return _tag("continue")

    def action(self, node: Action) -> str:
        value = self.pipeline(node.pipe)
        if node.pipe.declared:
            return self.bind(node.pipe, value)
        return self.printed(value, node.at)

    def printed(self, value: _Expr, at: Position) -> str:
        if value.kind in DIRECT_PRINT:
            return "{{ " + value.code + " }}"
        if value.kind == "nil":
            self.report(at, "prints nil, which Go prints as <no value>")
        if value.kind == "float":
            self.report(at, "prints a float constant: Go prints its shortest form, Python another")
        return "{{ printf(\"%v\", " + value.code + ") }}"

    def bind(self, pipe: Pipeline, value: _Expr) -> str:
        """``$x := value`` or ``$x = value``: set the variable in the namespace."""
        name = pipe.declared[-1]
        if pipe.assigns:
            target = self.lookup(name, pipe.at)
            if target.kind != value.kind:
                self.retype(name, value)
            return _tag(f"set {target.code} = {value.code}")
        target = self.declare(name, value.kind)
        return _tag(f"set {target.code} = {value.code}")

    def declare(self, name: str, kind: str) -> _Expr:
        """A new Jinja name for the Go variable ``name`` (rule 3), in the innermost scope."""
        bare = name[1:]
        safe = bare if bare.isascii() and bare.isidentifier() and not bare.startswith("_") else "v"
        if name in self.assigned:
            code = f"{_NAMESPACE}.{safe}_{next(self.ids)}"
        else:
            code = safe
            while code in self.used or code in _RESERVED:
                code = f"{safe}_{next(self.ids)}"
            self.used.add(code)
        variable = _Expr(code, kind)
        self.scopes[-1][name] = variable
        return variable

    def retype(self, name: str, value: _Expr) -> None:
        for scope in reversed(self.scopes):
            if name in scope:
                old = scope[name]
                scope[name] = _Expr(old.code, "any" if old.kind != value.kind else old.kind)
                return

    def lookup(self, name: str, at: Position) -> _Expr:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        self.report(at, f"variable {name} is not set here")
        return _Expr("none", "nil")

    def if_node(self, node: If) -> str:
        self.scopes.append({})
        try:
            head, test = self.condition(node.pipe)
            out = [head, _tag(f"if {test.code}"), self.nodes(node.body)]
            if node.else_body is not None:
                out += [_tag("else"), self.nodes(node.else_body)]
            return "".join([*out, _tag("endif")])
        finally:
            self.scopes.pop()

    def condition(self, pipe: Pipeline) -> tuple[str, _Expr]:
        """What to write before the test (a declaration), and the tested value."""
        value = self.pipeline(pipe)
        if not pipe.declared:
            return "", value
        head = self.bind(pipe, value)
        return head, self.lookup(pipe.declared[-1], pipe.at)

    def with_node(self, node: With) -> str:
        self.scopes.append({})
        try:
            head, value = self.condition(node.pipe)
            if not node.pipe.declared:
                held = _Expr(f"_with{next(self.ids)}", value.kind)
                head, value = _tag(f"set {held.code} = {value.code}"), held
            out = [head, _tag(f"if {value.code}"), self.with_dot(value, node.body)]
            if node.else_body is not None:
                out += [_tag("else"), self.nodes(node.else_body)]
            return "".join([*out, _tag("endif")])
        finally:
            self.scopes.pop()

    def with_dot(self, dot: _Expr, body: list[Node]) -> str:
        saved, self.dot = self.dot, dot
        try:
            return self.nodes(body)
        finally:
            self.dot = saved

    def range_node(self, node: Range) -> str:
        self.scopes.append({})
        try:
            return self.range_loop(node)
        finally:
            self.scopes.pop()

    def range_loop(self, node: Range) -> str:
        value = self.pipeline(node.pipe)
        if value.kind in ELEMENT_KINDS or value.kind == "map":
            return self.typed_loop(node, value)
        # a value of a kind known only when rendering: a map's sorted items, or a list with its index
        number, held = next(self.ids), f"_range{next(self.ids)}"
        head = _tag(f"set {held} = {value.code}")
        key = _Expr(f"(_e{number}[0] if {held} is mapping else loop.index0)", "any")
        element = _Expr(f"(_e{number}[1] if {held} is mapping else _e{number})", "any")
        loop = _tag(f"for _e{number} in ({held}|dictsort(true) if {held} is mapping else {held})")
        sets = []
        declared = node.pipe.declared
        bindings = [(declared[0], key), (declared[-1], element)][2 - len(declared):] if declared else []
        for name, bound in bindings:
            sets.append(_tag(f"set {self.declare(name, bound.kind).code} = {bound.code}"))
        return self.loop_body(node, head + loop + "".join(sets), element)

    def typed_loop(self, node: Range, value: _Expr) -> str:
        """A range over a list or a map known when converting: the loop's targets are the variables."""
        number = next(self.ids)
        declared = node.pipe.declared
        is_map = value.kind == "map"
        key = self.declare(declared[0], "str" if is_map else "int") if len(declared) == 2 else None
        element_kind = ELEMENT_KINDS.get(value.kind, "any")
        element = self.declare(declared[-1], element_kind) if declared else _Expr(f"_e{number}", element_kind)
        targets, sets = [], []
        for bound, temporary in ((key, f"_k{number}"), (element, f"_e{number}")):
            if bound is key and not is_map:
                continue
            if bound is None:
                targets.append(temporary)
            elif bound.code.startswith(f"{_NAMESPACE}."):
                targets.append(temporary)
                sets.append(_tag(f"set {bound.code} = {temporary}"))
            else:
                targets.append(bound.code)
        if key is not None and not is_map:
            sets.insert(0, _tag(f"set {key.code} = loop.index0"))
        source = f"({value.code})|dictsort(true)" if is_map else value.code
        loop = _tag(f"for {', '.join(targets)} in {source}") + "".join(sets)
        return self.loop_body(node, loop, _Expr(targets[-1], element.kind))

    def loop_body(self, node: Range, loop: str, dot: _Expr) -> str:
        out = [loop, self.with_dot(dot, node.body)]
        if node.else_body is not None:
            out += [_tag("else"), self.nodes(node.else_body)]
        return "".join([*out, _tag("endfor")])

    def template(self, node: Template) -> str:
        macro = self.macros.get(node.name)
        if macro is None:
            self.report(node.at, f"template {node.name!r} is not defined in this file")
            return ""
        argument = self.pipeline(node.pipe).code if node.pipe is not None else "none"
        return "{{ " + f"{macro}({argument})" + " }}"

    # expressions
    def pipeline(self, pipe: Pipeline) -> _Expr:
        value: _Expr | None = None
        for command in pipe.commands:
            value = self.command(command, value)
        assert value is not None, "the parser refuses an empty pipeline"
        return value

    def command(self, command: Command, piped: _Expr | None) -> _Expr:
        first, rest = command.args[0], command.args[1:]
        arguments = [self.operand(arg) for arg in rest] + ([piped] if piped is not None else [])
        if isinstance(first, Identifier):
            return self.call(first.name, arguments, first.at)
        if arguments and isinstance(first, Field | Variable | Chain) and first.fields:
            receiver, method = self.method_receiver(first)
            if not method.isidentifier():
                self.report(first.at, f"method {method} has no Jinja spelling")
            call = f"{receiver.code}.{method}({', '.join(a.code for a in arguments)})"
            return _Expr(call, "str" if receiver.kind == "time" and method == "Format" else "any")
        if arguments:
            self.report(command.at, "arguments given to a value that is not a function")
        return self.operand(first)

    def method_receiver(self, node: Field | Variable | Chain) -> tuple[_Expr, str]:
        *owners, method = node.fields
        match node:
            case Field():
                base = self.dot_value(node.at)
            case Variable():
                base = self.variable(node.name, node.at)
            case Chain():
                base = self.operand(node.node)
        return self.select(base, tuple(owners), node.at), method

    def operand(self, node: Operand) -> _Expr:
        match node:
            case Dot():
                return self.dot_value(node.at)
            case Nil():
                return _Expr("none", "nil")
            case Bool():
                return _Expr("true" if node.value else "false", "bool")
            case Number():
                return _number(node.value)
            case StringLit():
                return _Expr(jinja_string(node.value), "str")
            case Identifier():
                return self.call(node.name, [], node.at)
            case Variable():
                return self.select(self.variable(node.name, node.at), node.fields, node.at)
            case Field():
                return self.select(self.dot_value(node.at), node.fields, node.at)
            case Chain():
                return self.select(self.operand(node.node), node.fields, node.at)
            case Pipeline():
                if node.declared:
                    self.report(node.at, "a parenthesized pipeline declares a variable")
                inner = self.pipeline(node)
                return _Expr(f"({inner.code})", inner.kind)

    def dot_value(self, at: Position) -> _Expr:
        if self.dot.kind == _TOP_DOT:
            self.report(at, "uses dot at the top of the template, where confd gives no data (nil)")
        return self.dot

    def variable(self, name: str, at: Position) -> _Expr:
        value = self.lookup(name, at)
        if value.kind == _TOP_DOT:
            self.report(at, "uses $ at the top of the template, where confd gives no data (nil)")
        return value

    def select(self, base: _Expr, fields: tuple[str, ...], at: Position) -> _Expr:
        """``base.A.B`` as Go reads it: a map's key or a struct's field (Jinja's ``x["A"]`` finds both)."""
        value = base
        for name in fields:
            if value.kind == "time":
                self.report(at, f"calls the time method {name} without arguments (Jinja would not call it)")
            kind = "str" if value.kind == "kv" and name in ("Key", "Value") else "any"
            value = _Expr(f"{value.code}[{jinja_string(name)}]", kind)
        return value

    def call(self, name: str, arguments: list[_Expr], at: Position) -> _Expr:
        codes = [argument.code for argument in arguments]
        if name in UNSUPPORTED:
            self.report(at, f"{UNSUPPORTED[name]} has no faithful Jinja form")
            return _Expr("none", "any")
        if name in ("and", "or"):
            if not arguments:
                self.report(at, f"{name} needs at least one argument")
                return _Expr("none", "any")
            kinds = {argument.kind for argument in arguments}
            return _Expr("(" + f" {name} ".join(codes) + ")", kinds.pop() if len(kinds) == 1 else "any")
        if name == "not" and len(codes) == 1:
            return _Expr(f"(not {codes[0]})", "bool")
        comparison = _comparison(name, codes)
        if comparison is not None:
            return _Expr(comparison, "bool")
        if name in ("eq", "ne", "lt", "le", "gt", "ge", "not"):
            self.report(at, f"{name} with {len(codes)} argument(s) is an error in Go")
            return _Expr("none", "any")
        if name == "len" and len(arguments) == 1 and arguments[0].kind == "str":
            return _Expr(f"len({codes[0]}.encode())", "int")  # Go counts a string's bytes
        if name == "reverse" and arguments and arguments[0].kind == "kvs":
            self.report(at, "reverse of what gets returns does nothing in confd (its bug), and reverses in "
                            "confagent: drop the reverse to keep confd's output, then convert")
        if name == "datetime":
            return _Expr("datetime()", "time")
        if name in LENIENT_DNS:
            codes.append("[]")
        kind = RESULT_KINDS[name]
        if name == "reverse" and arguments:
            kind = arguments[0].kind
        return _Expr(f"{name}({', '.join(codes)})", kind)


_COMPARISONS = {"ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _assigned(tree: Tree) -> frozenset[str]:
    """The Go variables some ``$x = ...`` of the file assigns (they live in the namespace)."""
    found: set[str] = set()
    pending: list[Node] = [*tree.body, *(node for body in tree.defines.values() for node in body)]
    while pending:
        node = pending.pop()
        pipe = getattr(node, "pipe", None)
        if isinstance(pipe, Pipeline) and pipe.assigns:
            found.add(pipe.declared[-1])
        for branch in (getattr(node, "body", None), getattr(node, "else_body", None)):
            pending.extend(branch or ())
    return frozenset(found)


def _comparison(name: str, codes: list[str]) -> str | None:
    if name == "eq" and len(codes) == 2:
        return f"({codes[0]} == {codes[1]})"
    if name == "eq" and len(codes) > 2:
        return f"({codes[0]} in ({', '.join(codes[1:])},))"
    if name in _COMPARISONS and len(codes) == 2:
        return f"({codes[0]} {_COMPARISONS[name]} {codes[1]})"
    return None


def _number(value: int | float) -> _Expr:
    if isinstance(value, int):
        return _Expr(f"({value})" if value < 0 else str(value), "int")
    return _Expr(f"({value!r})" if value < 0 else repr(value), "float")


def _tag(statement: str) -> str:
    return "{%+ " + statement + " +%}"


def _text(text: str) -> str:
    """Template text as Jinja data: a ``{`` that could open a tag, and CRs, written as expressions."""
    out = []
    for index, char in enumerate(text):
        if char == "{" and text[index + 1 : index + 2] in ("{", "%", "#", "\r", ""):
            out.append('{{ "{" }}')
        elif char == "\r":
            out.append('{{ "\\r" }}')
        else:
            out.append(char)
    return "".join(out)


def jinja_string(value: str) -> str:
    """A Jinja string literal for ``value`` (Jinja unescapes like Python's unicode-escape)."""
    out = ['"']
    for char in value:
        if char in '\\"':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out) + '"'


def emit(tree: Tree) -> tuple[str, list[Finding]]:
    """The Jinja text of ``tree`` and what could not be converted faithfully (empty: all of it)."""
    emitter = _Emitter(tree)
    text = emitter.document()
    return text, emitter.findings

"""The parser of Go's text/template (Go 1.19's parse.go grammar): tokens -> a ``Tree``.

Rules:
1. ``define`` only at the top of a file; ``block`` anywhere (a define plus a
   ``Template`` where it stands); a name defined twice is an error.
2. ``{{else if}}`` nests an ``If`` in the else branch of ``if`` (Go 1.19
   allows it after ``if`` only); ``break``/``continue`` only inside ``range``.
3. Variables are checked as Go checks them: ``$`` always exists, a variable is
   usable from its declaration to the ``end`` of the control structure
   declaring it; a range declares one or two.
4. A function must be one of ``functions`` (Go refuses an unknown name when
   parsing). Every error is a ``RenderError`` naming the file, the line and
   the column.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from confagent.convert._lexer import Kind, Token, tokenize
from confagent.convert._literals import char_value, number_value, string_value
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
    Range,
    StringLit,
    Template,
    Text,
    Tree,
    Variable,
    With,
)
from confagent.errors import RenderError

__all__ = ["parse"]

_OPERAND_START = {Kind.BOOL, Kind.CHAR, Kind.DOT, Kind.FIELD, Kind.IDENTIFIER, Kind.NUMBER, Kind.NIL,
                  Kind.RAW_STRING, Kind.STRING, Kind.VARIABLE, Kind.LPAREN}
_T = TypeVar("_T")
_EXECUTABLE = (Identifier, Field, Variable, Chain, Pipeline)


class _Parser:
    def __init__(self, tokens: list[Token], name: str, functions: Collection[str]) -> None:
        self.tokens = tokens
        self.index = 0
        self.name = name
        self.functions = functions
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.tree = Tree(body=[])

    # tokens
    def peek(self) -> Token:
        return self.tokens[self.index]

    def next(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def skip_space(self) -> None:
        while self.peek().kind is Kind.SPACE:
            self.index += 1

    def next_non_space(self) -> Token:
        self.skip_space()
        return self.next()

    def peek_non_space(self) -> Token:
        self.skip_space()
        return self.peek()

    def error(self, token: Token, message: str) -> RenderError:
        return RenderError(f"{token.column}: {message}", template=self.name, line=token.line)

    def expect(self, kind: Kind, context: str) -> Token:
        token = self.next_non_space()
        if token.kind is not kind:
            raise self.unexpected(token, context)
        return token

    def unexpected(self, token: Token, context: str) -> RenderError:
        shown = "EOF" if token.kind is Kind.EOF else repr(token.text)
        return self.error(token, f"unexpected {shown} in {context}")

    # structure
    def parse(self) -> Tree:
        while self.peek().kind is not Kind.EOF:
            if self.peek().kind is Kind.LEFT and self._is_define():
                self.define()
                continue
            node = self.text_or_action()
            if isinstance(node, Token):
                raise self.error(node, f"unexpected {{{{{node.text}}}}}")
            self.tree.body.append(node)
        return self.tree

    def _is_define(self) -> bool:
        index = self.index + 1
        while self.tokens[index].kind is Kind.SPACE:
            index += 1
        token = self.tokens[index]
        return token.kind is Kind.KEYWORD and token.text == "define"

    def define(self) -> None:
        self.next()
        keyword = self.next_non_space()
        name = self.template_name(keyword, "define clause")
        self.expect(Kind.RIGHT, "define clause")
        saved, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved
        if end.text != "end":
            raise self.error(end, "unexpected {{else}} in define clause")
        self.add_define(name, body, keyword)

    def add_define(self, name: str, body: list[Node], token: Token) -> None:
        if name in self.tree.defines:
            raise self.error(token, f"template: multiple definition of template {name!r}")
        self.tree.defines[name] = body
        self.tree.defined_at[name] = (token.line, token.column)

    def template_name(self, keyword: Token, context: str) -> str:
        token = self.next_non_space()
        if token.kind not in (Kind.STRING, Kind.RAW_STRING):
            raise self.unexpected(token, context)
        return self.literal(token, string_value)

    def item_list(self) -> tuple[list[Node], Token]:
        """Nodes up to an ``{{end}}`` or ``{{else}}``; the keyword token that ended them."""
        nodes: list[Node] = []
        while True:
            if self.peek().kind is Kind.EOF:
                raise self.error(self.peek(), "unexpected EOF")
            node = self.text_or_action()
            if isinstance(node, Token):
                return nodes, node
            nodes.append(node)

    def text_or_action(self) -> Node | Token:
        token = self.next()
        if token.kind is Kind.TEXT:
            return Text((token.line, token.column), token.text)
        if token.kind is Kind.LEFT:
            return self.action(token)
        raise self.unexpected(token, "input")

    def action(self, left: Token) -> Node | Token:
        token = self.peek_non_space()
        at = (left.line, left.column)
        if token.kind is Kind.KEYWORD:
            self.next()
            match token.text:
                case "end":
                    self.expect(Kind.RIGHT, "end")
                    return token
                case "else":
                    if self.peek_non_space().kind is not Kind.KEYWORD or self.peek().text != "if":
                        self.expect(Kind.RIGHT, "else")
                    return token
                case "if":
                    return self.control(If, at, "if")
                case "range":
                    return self.control(Range, at, "range")
                case "with":
                    return self.control(With, at, "with")
                case "template":
                    return self.template(at, token)
                case "block":
                    return self.block(at, token)
                case "break" | "continue":
                    return self.loop_control(at, token)
            raise self.unexpected(token, "command")
        return Action(at, self.pipeline("command", Kind.RIGHT))

    def control(self, kind: type[If | Range | With], at: tuple[int, int], context: str) -> If | Range | With:
        mark = len(self.vars)
        pipe = self.pipeline(context, Kind.RIGHT)
        self.range_depth += context == "range"
        body, end = self.item_list()
        self.range_depth -= context == "range"
        else_body: list[Node] | None = None
        if end.text == "else":
            if context == "if" and self.peek_non_space().kind is Kind.KEYWORD and self.peek().text == "if":
                nested = self.next()
                else_body = [self.control(If, (nested.line, nested.column), "if")]
            else:
                else_body, end = self.item_list()
                if end.text != "end":
                    raise self.error(end, "expected end; found {{else}}")
        del self.vars[mark:]
        return kind(at, pipe, body, else_body)

    def template(self, at: tuple[int, int], keyword: Token) -> Template:
        name = self.template_name(keyword, "template clause")
        pipe = None
        if self.peek_non_space().kind is not Kind.RIGHT:
            pipe = self.pipeline("template clause", Kind.RIGHT)
        else:
            self.next()
        return Template(at, name, pipe)

    def block(self, at: tuple[int, int], keyword: Token) -> Template:
        name = self.template_name(keyword, "block clause")
        pipe = self.pipeline("block clause", Kind.RIGHT)
        saved = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0  # a template of its own, as Go parses it
        body, end = self.item_list()
        self.vars, self.range_depth = saved
        if end.text != "end":
            raise self.error(end, "unexpected {{else}} in block clause")
        self.add_define(name, body, keyword)
        return Template(at, name, pipe)

    def loop_control(self, at: tuple[int, int], keyword: Token) -> Break | Continue:
        self.expect(Kind.RIGHT, keyword.text)
        if self.range_depth == 0:
            raise self.error(keyword, f"{{{{{keyword.text}}}}} outside {{{{range}}}}")
        return Break(at) if keyword.text == "break" else Continue(at)

    # pipelines
    def pipeline(self, context: str, end: Kind) -> Pipeline:
        start = self.peek_non_space()
        at = (start.line, start.column)
        declared, assigns = self.declarations(context)
        commands: list[Command] = []
        while True:
            token = self.next_non_space()
            if token.kind is end:
                break
            if token.kind not in _OPERAND_START:
                raise self.unexpected(token, context)
            self.index -= 1
            commands.append(self.command())
        if not commands:
            raise self.error(start, f"missing value for {context}")
        for stage, command in enumerate(commands[1:], start=1):
            if not isinstance(command.args[0], _EXECUTABLE):
                raise self.error(start, f"non executable command in pipeline stage {stage + 1}")
        self.vars.extend(declared)
        return Pipeline(at, tuple(declared), assigns, tuple(commands))

    def declarations(self, context: str) -> tuple[list[str], bool]:
        declared: list[str] = []
        while True:
            start = self.index
            variable = self.peek_non_space()
            if variable.kind is not Kind.VARIABLE:
                return declared, False
            self.next()
            after = self.peek_non_space()
            if after.kind in (Kind.DECLARE, Kind.ASSIGN):
                self.next()
                if after.kind is Kind.ASSIGN and variable.text not in self.vars:
                    raise self.error(variable, f"undefined variable {variable.text!r}")
                return [*declared, variable.text], after.kind is Kind.ASSIGN
            if after.kind is Kind.COMMA and context == "range" and not declared:
                self.next()
                declared.append(variable.text)
                continue
            if after.kind is Kind.COMMA:
                raise self.error(after, f"too many declarations in {context}")
            if declared:
                raise self.error(variable, "range can only initialize variables")
            self.index = start
            return declared, False

    def command(self) -> Command:
        first = self.peek()
        args: list[Operand] = []
        while True:
            self.skip_space()
            args.append(self.operand())
            token = self.peek()
            if token.kind is Kind.SPACE:
                self.skip_space()
                if self.peek().kind in (Kind.RIGHT, Kind.RPAREN, Kind.PIPE):
                    token = self.peek()
                else:
                    continue
            if token.kind in (Kind.RIGHT, Kind.RPAREN):
                break
            if token.kind is Kind.PIPE:
                self.next()
                break
            raise self.unexpected(token, "operand")
        return Command((first.line, first.column), tuple(args))

    def operand(self) -> Operand:
        node = self.term()
        fields: list[str] = []
        while self.peek().kind is Kind.FIELD:
            fields.append(self.next().text[1:])
        if not fields:
            return node
        if isinstance(node, Field):
            return Field(node.at, node.fields + tuple(fields))
        if isinstance(node, Variable):
            return Variable(node.at, node.name, node.fields + tuple(fields))
        if isinstance(node, Bool | StringLit | Number | Nil | Dot):
            raise RenderError(f"{node.at[1]}: unexpected . after term", template=self.name, line=node.at[0])
        return Chain(node.at, node, tuple(fields))

    def term(self) -> Operand:
        token = self.next()
        at = (token.line, token.column)
        match token.kind:
            case Kind.IDENTIFIER:
                if token.text not in self.functions:
                    raise self.error(token, f'function "{token.text}" not defined')
                return Identifier(at, token.text)
            case Kind.DOT:
                return Dot(at)
            case Kind.NIL:
                return Nil(at)
            case Kind.BOOL:
                return Bool(at, token.text == "true")
            case Kind.VARIABLE:
                return self.variable(token)
            case Kind.FIELD:
                return Field(at, (token.text[1:],))
            case Kind.NUMBER:
                return Number(at, self.literal(token, number_value), token.text)
            case Kind.CHAR:
                return Number(at, self.literal(token, char_value), token.text)
            case Kind.STRING | Kind.RAW_STRING:
                return StringLit(at, self.literal(token, string_value))
            case Kind.LPAREN:
                pipe = self.pipeline("parenthesized pipeline", Kind.RPAREN)
                return pipe
        raise self.unexpected(token, "operand")

    def variable(self, token: Token) -> Variable:
        name, _, rest = token.text.partition(".")
        if name not in self.vars:
            raise self.error(token, f"undefined variable {name!r}")
        return Variable((token.line, token.column), name, tuple(rest.split(".")) if rest else ())

    def literal(self, token: Token, read: Callable[[str], _T]) -> _T:
        try:
            return read(token.text)
        except ValueError as error:
            raise self.error(token, str(error)) from error


def parse(text: str, name: str, functions: Collection[str]) -> Tree:
    """The tree of the Go template ``text`` (the file ``name``, for errors).

    Args:
        functions: the function names the template may call (Go's built-ins and confd's).

    Raises:
        RenderError: a syntax error, at its file, line and column.
    """
    return _Parser(tokenize(text, name), name, functions).parse()

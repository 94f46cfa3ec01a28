"""The lexer of Go's text/template (Go 1.19's lex.go rules): template text -> a list of tokens.

Rules:
1. Text runs up to ``{{``; an action ends at ``}}``. ``{{- `` (a dash then a
   space, tab or newline) trims every space, tab, CR and LF before the action,
   `` -}}`` every one after it: trimming is lexical, so it is done here, on
   the text tokens, and the converter's output needs no trim marker at all.
2. A comment is ``{{/* ... */}}`` (trim markers allowed around it), nothing
   in between; it yields no token.
3. Inside an action: spaces separate words; ``:=``, ``=``, ``|``, ``(``,
   ``)``, ``,``, fields (``.Name``), variables (``$name``, ``$``), ``.``,
   strings, raw strings, characters, numbers, identifiers and keywords.
4. Every token carries the line and column (1-based) where it starts; a bad
   character, an unclosed action or comment is a ``RenderError`` naming the
   template and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from confagent.errors import RenderError

__all__ = ["KEYWORDS", "Kind", "Token", "tokenize"]

_SPACE = " \t\r\n"
_LEFT, _RIGHT = "{{", "}}"
_LEFT_COMMENT, _RIGHT_COMMENT = "/*", "*/"
_TERMINATORS = set(_SPACE) | set(".,|:)(") | {""}


class Kind(Enum):
    TEXT = auto()
    LEFT = auto()       # {{ (and its trim marker)
    RIGHT = auto()      # }}
    SPACE = auto()
    DECLARE = auto()    # :=
    ASSIGN = auto()     # =
    PIPE = auto()
    LPAREN = auto()
    RPAREN = auto()
    COMMA = auto()
    FIELD = auto()      # .Name
    VARIABLE = auto()   # $name or $
    DOT = auto()
    STRING = auto()     # the token's text is the literal as written
    RAW_STRING = auto()
    CHAR = auto()
    NUMBER = auto()
    BOOL = auto()
    NIL = auto()
    IDENTIFIER = auto()
    KEYWORD = auto()
    EOF = auto()


KEYWORDS = frozenset({"block", "break", "continue", "define", "else", "end", "if", "range", "template",
                      "with"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    line: int
    column: int


class _Lexer:
    """One pass over a template's text; ``tokens`` is the result."""

    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.pos = 0
        self.tokens: list[Token] = []
        self.paren_depth = 0

    def where(self, pos: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, pos) + 1
        return line, pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def error(self, pos: int, message: str) -> RenderError:
        line, column = self.where(pos)
        return RenderError(f"{column}: {message}", template=self.name, line=line)

    def emit(self, kind: Kind, start: int, text: str | None = None) -> None:
        line, column = self.where(start)
        self.tokens.append(Token(kind, self.text[start:self.pos] if text is None else text, line, column))

    def run(self) -> list[Token]:
        trim_next = False
        while True:
            start = self.pos
            found = self.text.find(_LEFT, self.pos)
            end = len(self.text) if found < 0 else found
            chunk = self.text[start:end]
            if trim_next:
                stripped = chunk.lstrip(_SPACE)
                start += len(chunk) - len(stripped)
                chunk = stripped
            trim_before = found >= 0 and _left_trim(self.text, found + len(_LEFT))
            if trim_before:
                chunk = chunk.rstrip(_SPACE)
            if chunk:
                line, column = self.where(start)
                self.tokens.append(Token(Kind.TEXT, chunk, line, column))
            if found < 0:
                self.pos = len(self.text)
                self.emit(Kind.EOF, self.pos, "")
                return self.tokens
            trim_next = self.action(found, trim_before)

    def action(self, start: int, trimmed: bool) -> bool:
        """Lex one action from its ``{{`` at ``start``; whether it ends with a trim marker."""
        self.pos = start + len(_LEFT) + (2 if trimmed else 0)
        if self.text.startswith(_LEFT_COMMENT, self.pos):
            return self.comment(start)
        self.pos = start
        self.pos += len(_LEFT)
        self.emit(Kind.LEFT, start)
        if trimmed:
            self.pos += 2
        self.paren_depth = 0
        while True:
            at_right, trim = self.at_right()
            if at_right and self.paren_depth == 0:
                begin = self.pos
                self.pos += (2 if trim else 0) + len(_RIGHT)
                self.emit(Kind.RIGHT, begin, _RIGHT)
                return trim
            if at_right:
                raise self.error(self.pos, "unclosed left paren")
            self.inside()

    def comment(self, start: int) -> bool:
        end = self.text.find(_RIGHT_COMMENT, self.pos + len(_LEFT_COMMENT))
        if end < 0:
            raise self.error(start, "unclosed comment")
        self.pos = end + len(_RIGHT_COMMENT)
        at_right, trim = self.at_right()
        if not at_right:
            raise self.error(self.pos, "comment ends before closing delimiter")
        self.pos += (2 if trim else 0) + len(_RIGHT)
        return trim

    def at_right(self) -> tuple[bool, bool]:
        text, pos = self.text, self.pos
        marker = text[pos : pos + 2]
        if len(marker) == 2 and marker[0] in _SPACE and marker[1] == "-" and text.startswith(_RIGHT, pos + 2):
            return True, True
        return text.startswith(_RIGHT, pos), False

    def inside(self) -> None:
        start = self.pos
        if self.pos >= len(self.text):
            raise self.error(start, "unclosed action")
        char = self.text[self.pos]
        if char in _SPACE:
            while self.pos < len(self.text) and self.text[self.pos] in _SPACE and not self.at_right()[1]:
                self.pos += 1
            self.emit(Kind.SPACE, start)
        elif self.text.startswith(":=", self.pos) or char in "=|,()":
            self.punctuation(start)
        elif char == '"':
            self.quoted(start, '"', Kind.STRING)
        elif char == "`":
            end = self.text.find("`", self.pos + 1)
            if end < 0:
                raise self.error(start, "unterminated raw quoted string")
            self.pos = end + 1
            self.emit(Kind.RAW_STRING, start)
        elif char == "'":
            self.quoted(start, "'", Kind.CHAR)
        elif char == "$":
            self.pos += 1
            self.word()
            self.emit(Kind.VARIABLE, start)
            self.terminated(start)
        elif char == "." and not self.peek_digit(1):
            self.pos += 1
            if self.word():
                self.emit(Kind.FIELD, start)
            else:
                self.emit(Kind.DOT, start)
            self.terminated(start)
        elif char in "+-." or char.isdigit():
            self.number(start)
        elif char == "_" or char.isalpha():
            self.identifier(start)
        else:
            raise self.error(start, f"unexpected {char!r} in command")

    def punctuation(self, start: int) -> None:
        if self.text.startswith(":=", self.pos):
            self.pos += 2
            self.emit(Kind.DECLARE, start)
            return
        char = self.text[self.pos]
        self.pos += 1
        self.paren_depth += {"(": 1, ")": -1}.get(char, 0)
        if self.paren_depth < 0:
            raise self.error(start, "unexpected right paren")
        kinds = {"=": Kind.ASSIGN, "|": Kind.PIPE, ",": Kind.COMMA, "(": Kind.LPAREN, ")": Kind.RPAREN}
        self.emit(kinds[char], start)

    def peek_digit(self, offset: int) -> bool:
        pos = self.pos + offset
        return pos < len(self.text) and self.text[pos].isdigit()

    def word(self) -> bool:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos] == "_" or self.text[self.pos].isalnum()):
            self.pos += 1
        return self.pos > start

    def terminated(self, start: int) -> None:
        nxt = self.text[self.pos : self.pos + 1]
        if nxt not in _TERMINATORS and not self.text.startswith(_RIGHT, self.pos):
            raise self.error(self.pos, f"bad character {nxt!r}")

    def identifier(self, start: int) -> None:
        self.word()
        word = self.text[start:self.pos]
        self.terminated(start)
        if word in KEYWORDS:
            self.emit(Kind.KEYWORD, start)
        elif word in ("true", "false"):
            self.emit(Kind.BOOL, start)
        elif word == "nil":
            self.emit(Kind.NIL, start)
        else:
            self.emit(Kind.IDENTIFIER, start)

    def number(self, start: int) -> None:
        """Go's scanNumber, loosely: the parser reads the value and refuses a bad one."""
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "+-._"):
            char = self.text[self.pos]
            if char in "+-" and self.pos > start and self.text[self.pos - 1] not in "eEpP":
                break
            self.pos += 1
        self.emit(Kind.NUMBER, start)
        self.terminated(start)

    def quoted(self, start: int, quote: str, kind: Kind) -> None:
        self.pos += 1
        while True:
            if self.pos >= len(self.text) or self.text[self.pos] == "\n":
                what = "quoted string" if quote == '"' else "character constant"
                raise self.error(start, f"unterminated {what}")
            char = self.text[self.pos]
            self.pos += 2 if char == "\\" else 1
            if char == quote:
                break
        self.emit(kind, start)


def _left_trim(text: str, pos: int) -> bool:
    """Whether the action whose ``{{`` ends at ``pos`` opens with a trim marker (``{{- ``)."""
    return pos + 1 < len(text) and text[pos] == "-" and text[pos + 1] in _SPACE


def tokenize(text: str, name: str) -> list[Token]:
    """The tokens of ``text``, the template ``name`` (for errors); the last is ``EOF``.

    Raises:
        RenderError: a character or construct Go's lexer refuses, at its line.
    """
    return _Lexer(text, name).run()

"""A strict reader of DIRAC's job description language (JDL), for descriptions that come
from users.

DIRAC's own JDL reader (``ClassAdLight``, which DiracX runs inside its server) cuts a
description at ``=``, ``;`` and brackets without tokenising it, and loops forever on
some inputs: a nested ``[ ... ]`` not followed by ``;``, a bracket inside a string,
non-ASCII text.  A loop there takes the whole DiracX server with it, for every user.
So a description is sent only when it reads under this grammar, which is a strict
subset of what DIRAC accepts and holds nothing that reader takes for structure::

    description := "[" [attribute (";" attribute)* [";"]] "]"
    attribute   := NAME "=" expression
    expression  := or ; or := and ("||" and)* ; and := compare ("&&" compare)*
    compare     := sum [("==" | "!=" | "<" | "<=" | ">" | ">=" | "=?=" | "=!=") sum]
    sum         := product (("+" | "-") product)* ; product := unary (("*" | "/" | "%") unary)*
    unary       := ("!" | "-" | "+") unary | STRING | NUMBER | NAME ("." NAME)*
                   | "(" expression ")" | "{" [element ("," element)*] "}"
    element     := STRING | NUMBER | NAME

STRING is printable ASCII between double quotes without ``"``, ``\\``, ``;``, ``[`` or
``]``; NAME is ``[A-Za-z_][A-Za-z0-9_]*``.  Nested descriptions (``[ ... ]`` as a value)
are not accepted.

    >>> check_jdl('[Executable = "echo"; Arguments = "hello"; CPUTime = 600;]')
    ['Executable', 'Arguments', 'CPUTime']
    >>> check_jdl('[Executable = "echo"; Foo = [a] ]')
    Traceback (most recent call last):
    ...
    ValueError: JDL syntax error at character 29: '[' is only the description's own opening bracket
"""

from __future__ import annotations

import re

__all__ = ["MAX_JDL_CHARS", "check_jdl"]

#: Longest description read (DIRAC's own are a few hundred characters).
MAX_JDL_CHARS = 100_000
_MAX_DEPTH = 20
_MAX_ATTRIBUTES = 200
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"[\x20\x21\x23-\x3a\x3c-\x5a\x5e-\x7e]*")
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>=\?=|=!=|==|!=|<=|>=|&&|\|\||[-+*/%<>!=(){},;.\[\]])
""", re.VERBOSE)
_COMPARE = {"==", "!=", "<", "<=", ">", ">=", "=?=", "=!="}


class _Reader:
    """Recursive descent over the tokens of one description."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str, int]] = []
        at = 0
        while at < len(text):
            match = _TOKEN.match(text, at)
            if match is None:
                found = text[at]
                what = ("a string that is not closed, or holds \" \\ ; [ ] or a control "
                        "character" if found == '"' else f"{found!r} has no place here")
                raise self.error(at, what)
            if match.lastgroup != "space":
                self.tokens.append((match.lastgroup or "", match.group(), at))
            at = match.end()
        self.tokens.append(("end", "", len(text)))
        self.at = 0

    @staticmethod
    def error(where: int, what: str) -> ValueError:
        return ValueError(f"JDL syntax error at character {where + 1}: {what}")

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.at]

    def take(self, *values: str) -> bool:
        if self.tokens[self.at][1] in values and self.tokens[self.at][0] == "op":
            self.at += 1
            return True
        return False

    def expect(self, value: str, after: str) -> None:
        kind, text, where = self.peek()
        if not self.take(value):
            found = "the end" if kind == "end" else repr(text)
            raise self.error(where, f"expected {value!r} {after}, found {found}")

    def description(self) -> list[str]:
        self.expect("[", "to open the description")
        names: list[str] = []
        while not self.take("]"):
            kind, name, where = self.peek()
            if kind != "name":
                found = "the end" if kind == "end" else repr(name)
                raise self.error(where, f"expected an attribute name or ']', found {found}")
            if name.lower() in (n.lower() for n in names):
                raise self.error(where, f"{name} is given twice")
            if len(names) == _MAX_ATTRIBUTES:
                raise self.error(where, f"more than {_MAX_ATTRIBUTES} attributes")
            self.at += 1
            self.expect("=", f"after {name}")
            self.expression(0)
            names.append(name)
            if not self.take(";") and self.peek()[1] != "]":
                kind, text, where = self.peek()
                raise self.error(where, f"expected ';' after the value of {name}, found "
                                        + ("the end" if kind == "end" else repr(text)))
        kind, text, where = self.peek()
        if kind != "end":
            raise self.error(where, "text after the description's closing ']'")
        return names

    def expression(self, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise self.error(self.peek()[2], f"nested deeper than {_MAX_DEPTH} levels")
        self.binary(depth, 0)

    _LEVELS: tuple[frozenset[str], ...] = (frozenset({"||"}), frozenset({"&&"}),
                                           frozenset(_COMPARE), frozenset({"+", "-"}),
                                           frozenset({"*", "/", "%"}))

    def binary(self, depth: int, level: int) -> None:
        if level == len(self._LEVELS):
            self.unary(depth)
            return
        self.binary(depth, level + 1)
        while self.take(*self._LEVELS[level]):
            self.binary(depth, level + 1)
            if level == 2:  # comparisons do not chain
                break

    def unary(self, depth: int) -> None:
        kind, text, where = self.peek()
        if self.take("!", "-", "+"):
            self.unary(depth + 1)
        elif kind in ("string", "number"):
            self.at += 1
        elif kind == "name":
            self.at += 1
            while self.take("."):
                if self.peek()[0] != "name":
                    raise self.error(self.peek()[2], "expected a name after '.'")
                self.at += 1
        elif self.take("("):
            self.expression(depth + 1)
            self.expect(")", "to close '('")
        elif self.take("{"):
            if not self.take("}"):
                self.element()
                while self.take(","):
                    self.element()
                self.expect("}", "to close the list")
        elif text == "[":
            raise self.error(where, "'[' is only the description's own opening bracket")
        else:
            found = "the end" if kind == "end" else repr(text)
            raise self.error(where, f"expected a value, found {found}")

    def element(self) -> None:
        kind, text, where = self.peek()
        if kind not in ("string", "number", "name"):
            found = "the end" if kind == "end" else repr(text)
            raise self.error(where, f"a list holds strings, numbers or names, found {found}")
        self.at += 1


def check_jdl(jdl: str) -> list[str]:
    """Read a job description under the strict grammar of this module.

    Parameters
    ----------
    jdl : str
        The description, ``[ Name = value; ... ]``.

    Returns
    -------
    list of str
        Its attribute names, in order.

    Raises
    ------
    ValueError
        The description does not read under the grammar; the message names the
        character where reading stopped and why.
    """
    if len(jdl) > MAX_JDL_CHARS:
        raise ValueError(f"the job description is over {MAX_JDL_CHARS:,} characters")
    if not jdl.isascii():
        raise ValueError("the job description holds non-ASCII text, which DIRAC's JDL "
                         "reader does not take")
    return _Reader(jdl).description()

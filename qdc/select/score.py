"""What "score" means for selection: a safe arithmetic expression over columns, or named weights.

`--score 'qdc_quality * qdc_complexity'` is parsed by a small recursive-descent parser into a polars
expression (nothing is evaluated as Python). Grammar::

    expr   := term (('+' | '-') term)*
    term   := factor (('*' | '/') factor)*
    factor := ('-' | '+') factor | power
    power  := atom ('^' | '**') factor | atom
    atom   := NUMBER | NAME | `quoted name` | FUNC '(' expr (',' expr)* ')' | '(' expr ')'

Functions: log, log1p, exp, sqrt, abs (one argument), min, max (two or more), clip(x, lo, hi).
A bare name is a column; when no such column exists but ``qdc_<name>`` does, that one is used
(so ``quality * complexity`` works). `--set weights=...` (quality=1,complexity=0.5) is the weighted sum.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl

from qdc.errors import ConfigError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|`(?P<quoted>[^`]+)`|(?P<op>\*\*|[-+*/^(),]))"
)

_UNARY: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "log": lambda e: e.log(),
    "log1p": lambda e: e.log1p(),
    "exp": lambda e: e.exp(),
    "sqrt": lambda e: e.sqrt(),
    "abs": lambda e: e.abs(),
}
_VARIADIC = {"min": pl.min_horizontal, "max": pl.max_horizontal}


def _tokenise(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            bad = text[pos:].strip()[:20]
            raise ConfigError(f"--score {text!r}: cannot read {bad!r} (at character {pos + 1})")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, columns: list[str]) -> None:
        self.text = text
        self.tokens = _tokenise(text)
        self.i = 0
        self.columns = set(columns)
        self.used: list[str] = []

    def error(self, msg: str) -> ConfigError:
        return ConfigError(f"--score {self.text!r}: {msg}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of expression")
        if value is not None and tok[1] != value:
            raise self.error(f"expected {value!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> pl.Expr:
        if not self.tokens:
            raise self.error("empty expression")
        expr = self.expr()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return expr

    def expr(self) -> pl.Expr:
        left = self.term()
        while (tok := self.peek()) is not None and tok[1] in ("+", "-"):
            self.take()
            right = self.term()
            left = left + right if tok[1] == "+" else left - right
        return left

    def term(self) -> pl.Expr:
        left = self.factor()
        while (tok := self.peek()) is not None and tok[1] in ("*", "/"):
            self.take()
            right = self.factor()
            left = left * right if tok[1] == "*" else left / right
        return left

    def factor(self) -> pl.Expr:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in ("-", "+"):
            self.take()
            inner = self.factor()
            return -inner if tok[1] == "-" else inner
        return self.power()

    def power(self) -> pl.Expr:
        base = self.atom()
        tok = self.peek()
        if tok is not None and tok[1] in ("^", "**"):
            self.take()
            return base.pow(self.factor())
        return base

    def column(self, name: str) -> pl.Expr:
        if name in self.columns:
            real = name
        elif f"qdc_{name}" in self.columns:
            real = f"qdc_{name}"
        else:
            import difflib

            also = f" (nor qdc_{name})" if not name.startswith("qdc_") else ""
            visible = [c for c in self.columns if not c.startswith("__")]  # hidden columns are __qdc_*
            short = [c.removeprefix("qdc_") for c in visible]  # 'quality' names qdc_quality too
            close = difflib.get_close_matches(name, short if not name.startswith("qdc_") else visible, 1, 0.75)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.error(f"no column {name!r}{also}{hint}")
        self.used.append(real)
        return pl.col(real).cast(pl.Float64)

    def atom(self) -> pl.Expr:
        kind, value = self.take()
        if kind == "num":
            return pl.lit(float(value), dtype=pl.Float64)
        if kind == "quoted":
            return self.column(value)
        if kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                return self.call(value)
            return self.column(value)
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        raise self.error(f"unexpected {value!r}")

    def call(self, name: str) -> pl.Expr:
        self.take("(")
        args = [self.expr()]
        while (tok := self.peek()) is not None and tok[1] == ",":
            self.take()
            args.append(self.expr())
        self.take(")")
        if name in _UNARY:
            if len(args) != 1:
                raise self.error(f"{name}() takes one argument")
            return _UNARY[name](args[0])
        if name in _VARIADIC:
            if len(args) < 2:
                raise self.error(f"{name}() takes two or more arguments")
            return _VARIADIC[name](*args)
        if name == "clip":
            if len(args) != 3:
                raise self.error("clip() takes three arguments: clip(x, lo, hi)")
            return pl.min_horizontal(pl.max_horizontal(args[0], args[1]), args[2])
        known = ", ".join([*_UNARY, *_VARIADIC, "clip"])
        raise self.error(f"unknown function {name}() (known: {known})")


def parse_score(text: str, columns: list[str]) -> tuple[pl.Expr, list[str]]:
    """The polars expression for `text` and the columns it reads (in order of appearance)."""
    p = _Parser(text, columns)
    expr = p.parse()
    return expr, list(dict.fromkeys(p.used))


def referenced_names(text: str) -> list[str]:
    """Bare names an expression refers to (functions excluded), without resolving them."""
    toks = _tokenise(text)
    names: list[str] = []
    for i, (kind, value) in enumerate(toks):
        if kind == "quoted" or (kind == "name" and not (i + 1 < len(toks) and toks[i + 1][1] == "(")):
            names.append(value)
    return names


def parse_weights(text: str) -> dict[str, float]:
    """'quality=1,complexity=0.5' -> {'quality': 1.0, 'complexity': 0.5}."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"weights {text!r}: expected name=number pairs, e.g. quality=1,complexity=.5")
        try:
            out[name] = float(raw)
        except ValueError:
            raise ConfigError(f"weights {text!r}: {raw.strip()!r} is not a number") from None
    if not out:
        raise ConfigError("weights: name at least one column")
    return out


def weights_expression(weights: dict[str, float]) -> str:
    """The --score expression equivalent to `weights` (a weighted sum)."""
    return " + ".join(f"{w!r} * `{name}`" for name, w in weights.items())

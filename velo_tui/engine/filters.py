"""Filter expressions over the fields of a topic's records, translated to a DuckDB WHERE clause.

The language is the one users type in the debugger: `price>100`, `status = 'shipped'`,
`tier ~ PREM` (case-insensitive substring), combined with `and` / `or` / `not` and parentheses.
Plain SQL predicates over the fields work too: arithmetic (`quantity * unit_price > 1000`),
`IS [NOT] NULL`, `[NOT] IN (...)`, `[NOT] LIKE` / `ILIKE`, `[NOT] BETWEEN ... AND ...` and a
fixed set of scalar functions (`lower`, `length`, `starts_with`, ...).

User text never reaches the SQL as written. Field names are checked against the known fields
and quoted, and function names come from an allow-list. Literals become `?` parameters, or
quoted SQL literals for statements that take no parameters, such as `COPY`.

A value on the right of an operator may be quoted or bare. A bare word that names a field is
that field, otherwise it is text (`status = shipped`). A literal compared with a field takes the
field's type: numbers compare numerically with numeric fields, and text that is not a number is
an error there.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from velo_tui.engine.decode import ColumnSpec
from velo_tui.engine.errors import InputError

log = logging.getLogger(__name__)

#: Comparison operators as typed, mapped to SQL; `~` and `!~` are handled apart.
COMPARISONS = {"=": "=", "==": "=", "!=": "<>", "<>": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}

KEYWORDS = {"and", "or", "not", "is", "null", "in", "like", "ilike", "between", "true", "false"}

#: Scalar functions a filter may call: name -> (minimum arguments, maximum arguments, result).
FUNCTIONS = {
    "lower": (1, 1, "text"),
    "upper": (1, 1, "text"),
    "trim": (1, 1, "text"),
    "length": (1, 1, "numeric"),
    "abs": (1, 1, "numeric"),
    "round": (1, 2, "numeric"),
    "floor": (1, 1, "numeric"),
    "ceil": (1, 1, "numeric"),
    "coalesce": (1, 8, None),
    "substr": (2, 3, "text"),
    "starts_with": (2, 2, "boolean"),
    "ends_with": (2, 2, "boolean"),
    "contains": (2, 2, "boolean"),
    "regexp_matches": (2, 2, "boolean"),
    "year": (1, 1, "numeric"),
    "month": (1, 1, "numeric"),
    "day": (1, 1, "numeric"),
    "hour": (1, 1, "numeric"),
    "minute": (1, 1, "numeric"),
}

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATOR = re.compile(r"==|!=|<>|>=|<=|!~|[=<>~+\-*/%(),]")
#: Characters that end a bare value: whitespace, a closing bracket or a list comma.
_BARE_VALUE = re.compile(r"[^\s(),'\"]+")


class FilterError(InputError):
    """An invalid filter expression; `column` is the 1-based position of the problem."""

    def __init__(self, message: str, expression: str, column: int | None) -> None:
        where = f" at column {column}" if column is not None else ""
        super().__init__(f"invalid filter{where}: {message} (in: {expression})")
        self.expression = expression
        self.column = column


@dataclass
class CompiledFilter:
    """A filter translated to DuckDB SQL, in two equivalent forms."""

    expression: str
    where: str  # predicate with `?` placeholders, bound to `params` in order
    params: list = field(default_factory=list)
    inline: str = ""  # the same predicate with literals written as quoted SQL literals
    fields: list[str] = field(default_factory=list)  # fields the predicate reads, in order of use


def type_category(duckdb_type: str | None) -> str | None:
    """Return "numeric", "text", "boolean", "temporal" or None for a DuckDB type name."""
    if duckdb_type is None:
        return None
    kind = duckdb_type.upper()
    if kind in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "DOUBLE", "FLOAT",
                "REAL") or kind.startswith("DECIMAL"):
        return "numeric"
    if kind == "BOOLEAN":
        return "boolean"
    if kind in ("TIMESTAMP", "DATE", "TIME") or kind.startswith("TIMESTAMP"):
        return "temporal"
    return "text"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: object) -> str:
    """Write a Python value as a DuckDB SQL literal (strings quoted, quotes doubled)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


# -- syntax tree ---------------------------------------------------------------------------------


class _Render:
    """Collects parameters while a tree is written out; `inline` writes literals in place."""

    def __init__(self, inline: bool) -> None:
        self.inline = inline
        self.params: list = []

    def value(self, value: object) -> str:
        if self.inline:
            return sql_literal(value)
        self.params.append(value)
        return "?"


@dataclass
class _Node:
    column: int

    #: "numeric", "text", "boolean", "temporal" or None when unknown.
    def category(self) -> str | None:
        return None

    def render(self, out: _Render) -> str:
        raise NotImplementedError


@dataclass
class _Field(_Node):
    name: str
    duckdb_type: str

    def category(self) -> str | None:
        return type_category(self.duckdb_type)

    def render(self, out: _Render) -> str:
        return quote_identifier(self.name)


@dataclass
class _Literal(_Node):
    text: str  # as typed, without quotes
    kind: str  # "number", "string", "bare", "null", "boolean"
    expression: str = ""
    target: str | None = None  # category of what it is compared with
    target_type: str | None = None

    def category(self) -> str | None:
        if self.target is not None:
            return self.target
        return {"number": "numeric", "boolean": "boolean", "null": None}.get(self.kind, "text")

    def coerce(self, category: str | None, duckdb_type: str | None, against: str) -> None:
        """Give the literal the type of what it is compared with; raise FilterError if it cannot."""
        if self.kind == "null" or category is None:
            return
        if category == "numeric" and _number(self.text) is None:
            raise FilterError(
                f"'{self.text}' is not a number, but {against} is numeric ({duckdb_type or 'number'}); "
                "compare it with a number", self.expression, self.column,
            )
        if category == "boolean" and self.text.lower() not in _BOOLEANS:
            raise FilterError(
                f"'{self.text}' is not a boolean, but {against} is BOOLEAN; use true or false",
                self.expression, self.column,
            )
        self.target = category
        self.target_type = duckdb_type

    def python_value(self) -> object:
        if self.kind == "null":
            return None
        category = self.category()
        if category == "numeric":
            return _number(self.text)
        if category == "boolean":
            return _BOOLEANS[self.text.lower()]
        return self.text

    def render(self, out: _Render) -> str:
        if self.kind == "null":
            return "NULL"
        placeholder = out.value(self.python_value())
        if self.target == "temporal":
            kind = "DATE" if (self.target_type or "").upper() == "DATE" else "TIMESTAMP"
            return f"CAST({placeholder} AS {kind})"
        return placeholder


_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


@dataclass
class _Arithmetic(_Node):
    operator: str
    left: _Node
    right: _Node

    def category(self) -> str | None:
        return "numeric"

    def render(self, out: _Render) -> str:
        return f"({self.left.render(out)} {self.operator} {self.right.render(out)})"


@dataclass
class _Negative(_Node):
    operand: _Node

    def category(self) -> str | None:
        return "numeric"

    def render(self, out: _Render) -> str:
        return f"(- {self.operand.render(out)})"


@dataclass
class _Call(_Node):
    name: str
    arguments: list[_Node]

    def category(self) -> str | None:
        result = FUNCTIONS[self.name][2]
        if result is None and self.arguments:
            return self.arguments[0].category()
        return result

    def render(self, out: _Render) -> str:
        return f"{self.name}({', '.join(a.render(out) for a in self.arguments)})"


@dataclass
class _Predicate(_Node):
    """Any node whose value is boolean, written from a template over its operands."""

    template: str  # str.format template over the rendered operands: {0}, {1}, ...
    operands: list[_Node]

    def category(self) -> str | None:
        return "boolean"

    def render(self, out: _Render) -> str:
        return self.template.format(*(operand.render(out) for operand in self.operands))


@dataclass
class _Group(_Node):
    inner: _Node

    def category(self) -> str | None:
        return self.inner.category()

    def render(self, out: _Render) -> str:
        return f"({self.inner.render(out)})"


# -- scanning --------------------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str  # "number", "string", "identifier", "quoted_identifier", "operator", "end"
    text: str  # token text; for strings and quoted identifiers the content without quotes
    start: int  # 0-based offset in the expression
    end: int

    @property
    def column(self) -> int:
        return self.start + 1

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "identifier" and self.text.lower() in words


class _Scanner:
    """Reads tokens on demand, so a bare value can be taken as raw text instead."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.position = 0
        self._peeked: _Token | None = None

    def error(self, message: str, column: int | None) -> FilterError:
        return FilterError(message, self.expression, column)

    def peek(self) -> _Token:
        if self._peeked is None:
            self._peeked = self._scan()
        return self._peeked

    def next(self) -> _Token:
        token = self.peek()
        self._peeked = None
        self.position = token.end
        return token

    def peek_bare(self) -> _Token | None:
        """Return the raw text up to whitespace, a bracket or a comma, unless a quote starts it."""
        start = self._skip_space(self.position)
        match = _BARE_VALUE.match(self.expression, start)
        if match is None:
            return None
        return _Token("bare", match.group(), start, match.end())

    def bare_value(self) -> _Token | None:
        """Consume and return what `peek_bare` returns."""
        token = self.peek_bare()
        if token is not None:
            self._peeked = None
            self.position = token.end
        return token

    def _skip_space(self, position: int) -> int:
        while position < len(self.expression) and self.expression[position].isspace():
            position += 1
        return position

    def _scan(self) -> _Token:
        text = self.expression
        start = self._skip_space(self.position)
        if start >= len(text):
            return _Token("end", "", start, start)
        char = text[start]
        if char in "'\"":
            return self._quoted(start, char)
        number = _NUMBER.match(text, start)
        if number and not (char in "+-"):
            return _Token("number", number.group(), start, number.end())
        identifier = _IDENTIFIER.match(text, start)
        if identifier:
            return _Token("identifier", identifier.group(), start, identifier.end())
        operator = _OPERATOR.match(text, start)
        if operator:
            return _Token("operator", operator.group(), start, operator.end())
        raise self.error(f"unexpected character {char!r}", start + 1)

    def _quoted(self, start: int, quote: str) -> _Token:
        text = self.expression
        position = start + 1
        parts = []
        while True:
            end = text.find(quote, position)
            if end < 0:
                what = "string" if quote == "'" else "quoted field name"
                raise self.error(f"unterminated {what}; close it with {quote}", start + 1)
            parts.append(text[position:end])
            if text.startswith(quote * 2, end):
                parts.append(quote)
                position = end + 2
                continue
            content = "".join(parts)
            if "\x00" in content:
                raise self.error("a NUL character cannot appear in a filter", start + 1)
            kind = "string" if quote == "'" else "quoted_identifier"
            return _Token(kind, content, start, end + 1)


def _number(text: str) -> int | float | None:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return float(value)


# -- parsing ---------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, expression: str, columns: Sequence[ColumnSpec]) -> None:
        self.expression = expression
        self.scanner = _Scanner(expression)
        self.columns = list(columns)
        self.by_name = {c.name: c for c in self.columns}
        self.fields_used: list[str] = []

    def error(self, message: str, column: int | None) -> FilterError:
        return FilterError(message, self.expression, column)

    def parse(self) -> _Node:
        if not self.expression.strip():
            raise self.error("the expression is empty; write one like price > 100", None)
        node = self._or()
        token = self.scanner.peek()
        if token.kind != "end":
            raise self.error(f"unexpected '{token.text}'; expected and, or or the end", token.column)
        if node.category() not in ("boolean", None):
            raise self.error("the expression is not a condition; compare it, as in price > 100", node.column)
        return node

    # boolean structure

    def _or(self) -> _Node:
        node = self._and()
        while self.scanner.peek().is_keyword("or"):
            self.scanner.next()
            right = self._and()
            node = _Predicate(node.column, "({0} OR {1})", [node, right])
        return node

    def _and(self) -> _Node:
        node = self._not()
        while self.scanner.peek().is_keyword("and"):
            self.scanner.next()
            right = self._not()
            node = _Predicate(node.column, "({0} AND {1})", [node, right])
        return node

    def _not(self) -> _Node:
        token = self.scanner.peek()
        if token.is_keyword("not"):
            self.scanner.next()
            operand = self._not()
            return _Predicate(token.column, "(NOT {0})", [operand])
        return self._predicate()

    def _predicate(self) -> _Node:
        left = self._additive()
        token = self.scanner.peek()

        if token.kind == "operator" and token.text in COMPARISONS:
            self.scanner.next()
            right = self._value(left)
            self._coerce_pair(left, right)
            return _Predicate(left.column, "({0} " + COMPARISONS[token.text] + " {1})", [left, right])
        if token.kind == "operator" and token.text in ("~", "!~"):
            self.scanner.next()
            right = self._value(left)
            template = "contains(lower(CAST({0} AS VARCHAR)), lower(CAST({1} AS VARCHAR)))"
            if token.text == "!~":
                template = f"(NOT {template})"
            if isinstance(right, _Literal):
                right.target = "text"
            return _Predicate(left.column, template, [left, right])
        if token.is_keyword("is"):
            return self._is_null(left)

        negated = False
        if token.is_keyword("not"):
            self.scanner.next()
            negated = True
            token = self.scanner.peek()
        if token.is_keyword("in"):
            return self._in(left, negated)
        if token.is_keyword("like", "ilike"):
            return self._like(left, negated)
        if token.is_keyword("between"):
            return self._between(left, negated)

        if negated:
            raise self.error("expected IN, LIKE, ILIKE or BETWEEN after NOT", token.column)
        if left.category() not in ("boolean", None) or isinstance(left, _Literal):
            raise self.error(
                f"expected an operator ({', '.join(list(COMPARISONS) + ['~'])}) after "
                f"'{self._text(left)}'", token.column if token.kind != "end" else len(self.expression) + 1,
            )
        return left

    def _is_null(self, left: _Node) -> _Node:
        self.scanner.next()
        template = "({0} IS NULL)"
        if self.scanner.peek().is_keyword("not"):
            self.scanner.next()
            template = "({0} IS NOT NULL)"
        token = self.scanner.next()
        if not token.is_keyword("null"):
            raise self.error("expected NULL after IS", self._column(token))
        return _Predicate(left.column, template, [left])

    def _in(self, left: _Node, negated: bool) -> _Node:
        self.scanner.next()
        self._expect("(", "after IN")
        values = [self._value(left)]
        while self.scanner.peek().text == "," and self.scanner.peek().kind == "operator":
            self.scanner.next()
            values.append(self._value(left))
        self._expect(")", "to close the IN list")
        for value in values:
            self._coerce_pair(left, value)
        placeholders = ", ".join("{" + str(i + 1) + "}" for i in range(len(values)))
        keyword = "NOT IN" if negated else "IN"
        return _Predicate(left.column, "({0} " + keyword + " (" + placeholders + "))", [left, *values])

    def _like(self, left: _Node, negated: bool) -> _Node:
        keyword = self.scanner.next().text.upper()
        pattern = self._value(left)
        if isinstance(pattern, _Literal):
            pattern.target = "text"
        negation = "NOT " if negated else ""
        return _Predicate(left.column, "(CAST({0} AS VARCHAR) " + negation + keyword + " {1})", [left, pattern])

    def _between(self, left: _Node, negated: bool) -> _Node:
        self.scanner.next()
        low = self._value(left)
        token = self.scanner.next()
        if not token.is_keyword("and"):
            raise self.error("expected AND between the two BETWEEN bounds", self._column(token))
        high = self._value(left)
        self._coerce_pair(left, low)
        self._coerce_pair(left, high)
        keyword = "NOT BETWEEN" if negated else "BETWEEN"
        return _Predicate(left.column, "({0} " + keyword + " {1} AND {2})", [left, low, high])

    # values

    def _additive(self, first: _Node | None = None) -> _Node:
        node = self._multiplicative(first)
        while self.scanner.peek().kind == "operator" and self.scanner.peek().text in ("+", "-"):
            operator = self.scanner.next().text
            right = self._multiplicative()
            node = self._arithmetic(operator, node, right)
        return node

    def _multiplicative(self, first: _Node | None = None) -> _Node:
        node = first if first is not None else self._unary()
        while self.scanner.peek().kind == "operator" and self.scanner.peek().text in ("*", "/", "%"):
            operator = self.scanner.next().text
            right = self._unary()
            node = self._arithmetic(operator, node, right)
        return node

    def _arithmetic(self, operator: str, left: _Node, right: _Node) -> _Node:
        for operand in (left, right):
            if isinstance(operand, _Literal):
                operand.coerce("numeric", None, f"the operand of {operator}")
            elif operand.category() not in ("numeric", None):
                raise self.error(
                    f"'{operator}' needs numbers, but '{self._text(operand)}' is {operand.category()}",
                    operand.column,
                )
        return _Arithmetic(left.column, operator, left, right)

    def _unary(self) -> _Node:
        token = self.scanner.peek()
        if token.kind == "operator" and token.text == "-":
            self.scanner.next()
            return _Negative(token.column, self._unary())
        return self._primary()

    def _primary(self) -> _Node:
        token = self.scanner.next()
        if token.kind == "end":
            raise self.error("the expression ends too early; a field or value is missing", token.column)
        if token.kind == "operator" and token.text == "(":
            inner = self._or()
            self._expect(")", "to close the bracket")
            return _Group(token.column, inner)
        if token.kind == "number":
            return _Literal(token.column, token.text, "number", self.expression)
        if token.kind == "string":
            return _Literal(token.column, token.text, "string", self.expression)
        if token.kind == "quoted_identifier":
            return self._field(token.text, token.column)
        if token.kind == "identifier":
            lowered = token.text.lower()
            if lowered == "null":
                return _Literal(token.column, "null", "null", self.expression)
            if lowered in ("true", "false"):
                return _Literal(token.column, lowered, "boolean", self.expression)
            following = self.scanner.peek()
            if following.kind == "operator" and following.text == "(" and following.start == token.end:
                return self._call(token)
            if lowered in KEYWORDS:
                raise self.error(f"unexpected keyword '{token.text}'; a field or value is missing", token.column)
            return self._field(token.text, token.column)
        raise self.error(f"unexpected '{token.text}'; expected a field or a value", token.column)

    def _value(self, left: _Node) -> _Node:
        """Parse the right side of an operator: a quoted or bare value, a number, or a field.

        A date such as 2024-01-01 compared with a field that is not numeric is text, not
        arithmetic.
        """
        token = self.scanner.peek()
        chunk = self.scanner.peek_bare()
        if chunk is not None and _number(chunk.text) is not None:
            self.scanner.bare_value()
            first = _Literal(chunk.column, chunk.text, "number", self.expression)
            return self._additive(first)
        if token.kind == "number" and left.category() not in ("numeric", None):
            return self._bare()
        if token.kind in ("string", "number", "quoted_identifier") or (
            token.kind == "operator" and token.text in ("(", "-")
        ):
            return self._additive()
        if token.kind == "identifier":
            lowered = token.text.lower()
            is_call = lowered in FUNCTIONS and self.expression.startswith("(", token.end)
            if lowered in ("null", "true", "false") or is_call or self._lookup(token.text):
                return self._additive()
            if lowered in KEYWORDS:
                raise self.error(f"expected a value before '{token.text}'", token.column)
        if token.kind == "end":
            raise self.error("a value is missing at the end", token.column)
        return self._bare()

    def _bare(self) -> _Literal:
        token = self.scanner.peek()
        bare = self.scanner.bare_value()
        if bare is None:
            raise self.error(f"unexpected '{token.text}'; expected a value", token.column)
        return _Literal(bare.column, bare.text, "bare", self.expression)

    def _call(self, token: _Token) -> _Node:
        name = token.text.lower()
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.error(f"unknown function '{token.text}'; the filter functions are: {known}", token.column)
        self._expect("(", "after the function name")
        arguments: list[_Node] = []
        if not (self.scanner.peek().kind == "operator" and self.scanner.peek().text == ")"):
            arguments.append(self._argument())
            while self.scanner.peek().kind == "operator" and self.scanner.peek().text == ",":
                self.scanner.next()
                arguments.append(self._argument())
        self._expect(")", f"to close the arguments of {name}")
        low, high, _ = FUNCTIONS[name]
        if not low <= len(arguments) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise self.error(f"{name} takes {expected} argument(s), got {len(arguments)}", token.column)
        return _Call(token.column, name, arguments)

    def _argument(self) -> _Node:
        node = self._additive()
        token = self.scanner.peek()
        if token.kind == "operator" and (token.text in COMPARISONS or token.text in ("~", "!~")):
            raise self.error("a comparison cannot be a function argument", token.column)
        return node

    # helpers

    def _field(self, name: str, column: int) -> _Field:
        spec = self._lookup(name)
        if spec is None:
            names = [c.name for c in self.columns]
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.error(
                f"unknown field '{name}'{hint}; the fields are: {', '.join(names) or 'none'}", column
            )
        if spec.name not in self.fields_used:
            self.fields_used.append(spec.name)
        return _Field(column, spec.name, spec.duckdb_type)

    def _lookup(self, name: str) -> ColumnSpec | None:
        if name in self.by_name:
            return self.by_name[name]
        matches = [c for c in self.columns if c.name.lower() == name.lower()]
        return matches[0] if len(matches) == 1 else None

    def _coerce_pair(self, left: _Node, right: _Node) -> None:
        if isinstance(right, _Literal) and not isinstance(left, _Literal):
            right.coerce(left.category(), _type_of(left), f"'{self._text(left)}'")
        elif isinstance(left, _Literal) and not isinstance(right, _Literal):
            left.coerce(right.category(), _type_of(right), f"'{self._text(right)}'")

    def _expect(self, text: str, purpose: str) -> None:
        token = self.scanner.next()
        if token.kind != "operator" or token.text != text:
            found = "the end" if token.kind == "end" else f"'{token.text}'"
            raise self.error(f"expected '{text}' {purpose}, found {found}", self._column(token))

    def _column(self, token: _Token) -> int:
        return token.column

    def _text(self, node: _Node) -> str:
        if isinstance(node, _Field):
            return node.name
        if isinstance(node, _Literal):
            return node.text
        return self.expression[node.column - 1:].split()[0] if node.column else "expression"


def _type_of(node: _Node) -> str | None:
    if isinstance(node, _Field):
        return node.duckdb_type
    if isinstance(node, _Group):
        return _type_of(node.inner)
    return None


def compile_filter(expression: str, columns: Sequence[ColumnSpec]) -> CompiledFilter:
    """Translate `expression` into a DuckDB predicate over `columns`; raise FilterError if invalid."""
    parser = _Parser(expression, columns)
    tree = parser.parse()
    with_params = _Render(inline=False)
    where = tree.render(with_params)
    inline = tree.render(_Render(inline=True))
    log.debug("filter %r -> %s %r", expression, where, with_params.params)
    return CompiledFilter(expression, where, with_params.params, inline, parser.fields_used)

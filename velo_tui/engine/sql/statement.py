"""Parsing of one `CREATE STREAM|TABLE name AS SELECT ... [EMIT CHANGES] [WITH (...)]` statement.

The parts are found on a masked copy of the text (comments and string contents blanked), so
every offset still points into the statement as written and maps to a file line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.sql.text import TextOrigin, mask, paren_depths, unquote_identifier

_IDENTIFIER = r'"(?:[^"]|"")+"|`(?:[^`]|``)+`|[A-Za-z_][\w.]*'
_CREATE = re.compile(
    rf"CREATE\s+(?:OR\s+REPLACE\s+)?(STREAM|TABLE)\s+({_IDENTIFIER})\s+AS\s+",
    re.IGNORECASE,
)
_EMIT = re.compile(r"\bEMIT\s+CHANGES\b", re.IGNORECASE)
_WITH = re.compile(r"\bWITH\s*\(", re.IGNORECASE)
_PROPERTY_PART = re.compile(r"'((?:[^']|'')*)'|([^\s,=()']+)")


@dataclass
class WithProperty:
    """One `'key' = 'value'` pair of a WITH clause and where it is written."""

    key: str
    value: str
    location: SourceLocation


@dataclass
class ParsedCreate:
    """The parts of a CREATE statement, with file locations."""

    kind: str
    name: str
    select_sql: str
    select_location: SourceLocation
    properties: dict[str, WithProperty] = field(default_factory=dict)


def parse_create(text: str, origin: TextOrigin) -> ParsedCreate:
    """Split a statement into its name, SELECT and WITH properties; raise `InputError` when it
    is not a `CREATE STREAM|TABLE name AS SELECT ...` statement."""
    masked = mask(text, origin)
    create = _CREATE.match(masked)
    if create is None:
        raise InputError(
            "expected CREATE STREAM name AS SELECT ... (or CREATE TABLE); other statements "
            "are not supported",
            origin.locate(text, 0),
        )
    kind = create.group(1).upper()
    name = unquote_identifier(text[create.start(2) : create.end(2)])
    body_start = create.end()

    depths = paren_depths(masked)
    end = len(masked.rstrip().rstrip(";").rstrip())
    emit = _top_level(_EMIT, masked, depths, body_start, end)
    with_clause = _top_level(_WITH, masked, depths, body_start, end)
    select_end = min((match.start() for match in (emit, with_clause) if match), default=end)

    properties: dict[str, WithProperty] = {}
    tail_start = select_end
    if with_clause is not None:
        open_paren = with_clause.end() - 1
        close_paren = _matching_paren(masked, open_paren)
        if close_paren is None or close_paren >= end:
            raise InputError(
                "the WITH ( ... ) clause is not closed; add the closing ')'",
                origin.locate(text, open_paren),
            )
        properties = _parse_properties(text, open_paren + 1, close_paren, origin)
        _check_tail(masked, text, select_end, with_clause.start(), emit, origin)
        tail_start = close_paren + 1
    _check_tail(masked, text, tail_start, end, emit, origin)

    select_sql = text[body_start:select_end].rstrip()
    if not select_sql.strip():
        raise InputError(
            f"statement '{name}' has no SELECT after AS", origin.locate(text, body_start)
        )
    first_word = re.match(r"\s*(\w+)", masked[body_start:select_end])
    if first_word is None or first_word.group(1).upper() != "SELECT":
        found = first_word.group(1) if first_word else masked[body_start:select_end].strip()[:20]
        raise InputError(
            f"expected SELECT after AS in statement '{name}', found '{found}'; fix the keyword",
            origin.locate(text, body_start + (first_word.start(1) if first_word else 0)),
        )
    return ParsedCreate(
        kind=kind,
        name=name,
        select_sql=select_sql,
        select_location=origin.locate(text, body_start),
        properties=properties,
    )


def _top_level(
    pattern: re.Pattern[str], masked: str, depths: list[int], start: int, end: int
) -> re.Match[str] | None:
    for match in pattern.finditer(masked, start, end):
        if depths[match.start()] == 0:
            return match
    return None


def _matching_paren(masked: str, open_paren: int) -> int | None:
    depth = 0
    for index in range(open_paren, len(masked)):
        if masked[index] == "(":
            depth += 1
        elif masked[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


def _check_tail(
    masked: str, text: str, start: int, end: int, emit: re.Match[str] | None, origin: TextOrigin
) -> None:
    """Raise unless `masked[start:end]` contains nothing but EMIT CHANGES and whitespace."""
    rest = masked[start:end]
    if emit is not None and start <= emit.start() < end:
        blank = " " * (emit.end() - emit.start())
        rest = masked[start : emit.start()] + blank + masked[emit.end() : end]
    stray = len(rest) - len(rest.lstrip())
    if rest.strip():
        raise InputError(
            "unexpected text after the SELECT; a statement ends with [EMIT CHANGES] "
            "[WITH ( ... )] and ';'",
            origin.locate(text, start + stray),
        )


def _parse_properties(
    text: str, start: int, end: int, origin: TextOrigin
) -> dict[str, WithProperty]:
    """Parse `'key' = 'value', ...`; comments are allowed between the pairs."""
    inner = mask(text[:end], origin, strings=False)
    properties: dict[str, WithProperty] = {}
    position = start
    while True:
        position = _skip_space(inner, position, end)
        if position >= end:
            return properties
        key_match = _PROPERTY_PART.match(inner, position, end)
        if key_match is None:
            raise _property_error("expected a quoted property name", text, position, origin)
        position = _skip_space(inner, key_match.end(), end)
        if position >= end or inner[position] != "=":
            raise _property_error(
                "expected '=' after the property name", text, position, origin
            )
        position = _skip_space(inner, position + 1, end)
        value_match = _PROPERTY_PART.match(inner, position, end)
        if value_match is None:
            raise _property_error("expected a quoted property value", text, position, origin)

        key = _part_text(key_match)
        properties[key] = WithProperty(
            key=key,
            value=_part_text(value_match),
            location=origin.locate(text, key_match.start()),
        )
        position = _skip_space(inner, value_match.end(), end)
        if position < end:
            if inner[position] != ",":
                raise _property_error(
                    "expected ',' between properties", text, position, origin
                )
            position += 1


def _part_text(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1).replace("''", "'")
    return match.group(2)


def _skip_space(text: str, position: int, end: int) -> int:
    while position < end and text[position].isspace():
        position += 1
    return position


def _property_error(problem: str, text: str, offset: int, origin: TextOrigin) -> InputError:
    return InputError(
        f"invalid WITH clause: {problem}; write properties as 'name' = 'value', separated by "
        "commas",
        origin.locate(text, offset),
    )

"""Translation of a statement's Velostream SELECT into DuckDB SQL over one source micro-batch.

The translated query reads `SOURCE_RELATION` instead of the source stream, carries
`ROW_ID_COLUMN` through so output rows map back to their input records, and uses the macros in
`DUCKDB_SETUP` where DuckDB's own semantics differ from the ones chosen for streaming SQL.
Stateful constructs (aggregation, windows, joins, ...) are rejected with their file location.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, Tokenizer, TokenType

from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.pipeline import PSEUDO_COLUMNS, ROW_ID_COLUMN, SOURCE_RELATION
from velo_tui.engine.sql.text import TextOrigin, mask
from velo_tui.engine.sql.unsupported import (
    reject_unsupported_keywords,
    reject_unsupported_tree,
    token_location,
)

logger = logging.getLogger(__name__)

DIVIDE_MACRO = "velo_divide"
MODULO_MACRO = "velo_modulo"

#: Statements the executor runs once on each DuckDB connection before any translated SELECT.
DUCKDB_SETUP: list[str] = [
    # `a / b` becomes velo_divide(a, b): true division (7 / 2 = 3.5), and a zero divisor, integer
    # or float, raises "division by zero" instead of DuckDB's NULL, so the record goes to the DLQ.
    f"CREATE OR REPLACE TEMP MACRO {DIVIDE_MACRO}(a, b) AS "
    "CASE WHEN b = 0 THEN error('division by zero') ELSE a / b END",
    # `a % b` becomes velo_modulo(a, b), which raises on a zero divisor like division does.
    f"CREATE OR REPLACE TEMP MACRO {MODULO_MACRO}(a, b) AS "
    "CASE WHEN b = 0 THEN error('division by zero') ELSE a % b END",
]

#: Velostream type names whose DuckDB meaning differs, mapped to the DuckDB type to use.
#: Velostream INTEGER is a 64-bit integer and FLOAT a 64-bit float; a plain DECIMAL keeps
#: 4 fractional digits, the scale Velostream gives a plain `decimal`.
_CAST_TYPES: dict[exp.DataType.Type, str] = {
    exp.DataType.Type.TEXT: "VARCHAR",  # STRING and TEXT
    exp.DataType.Type.INT: "BIGINT",
    exp.DataType.Type.FLOAT: "DOUBLE",
}
_PLAIN_DECIMAL = "DECIMAL(38, 4)"

#: Projection that `SELECT *` becomes: every source column except the message metadata
#: pseudo-columns and the row id, which stay reachable by name.
_HIDDEN_COLUMNS = (*PSEUDO_COLUMNS, ROW_ID_COLUMN)
_STAR_PROJECTION = "COLUMNS(lambda c: c NOT IN ({}))".format(
    ", ".join(f"'{name}'" for name in _HIDDEN_COLUMNS)
)


@dataclass
class Translation:
    """A SELECT translated to DuckDB, with the names of the columns it outputs."""

    duckdb_sql: str
    #: Output column names in projection order; `*` stands for every non-hidden source column.
    output_columns: list[str]
    key_column: str | None = None


@dataclass
class _ParsedSelect:
    tree: exp.Select
    tokens: list[Token]
    select_list: _SelectList
    origin: TextOrigin
    text: str


def source_relation(select_sql: str, location: SourceLocation) -> str:
    """Return the name of the one relation the SELECT reads FROM, raising `InputError` for
    syntax errors and unsupported constructs."""
    parsed = _parse_select(select_sql, location)
    table = parsed.tree.args["from_"].this
    return table.name


def translate_select(select_sql: str, source_name: str, location: SourceLocation) -> Translation:
    """Translate a Velostream SELECT into DuckDB SQL that reads `SOURCE_RELATION`.

    `location` is where `select_sql` starts in its SQL file, so errors point at file lines.
    Raises `InputError` for a syntax error or an unsupported construct.
    """
    parsed = _parse_select(select_sql, location)
    tree = parsed.tree
    table = tree.args["from_"].this
    if table.name.lower() != source_name.lower():
        raise InputError(
            f"the SELECT reads FROM '{table.name}' but the statement's source is "
            f"'{source_name}'; make them the same",
            location,
        )

    names = _output_names(tree, parsed)
    key_index = parsed.select_list.key_index
    key_column = names[key_index] if key_index is not None else None

    _rename_source(tree, table)
    _rewrite_expressions(tree)
    _alias_computed_columns(tree, names)
    tree.append("expressions", exp.column(ROW_ID_COLUMN))

    duckdb_sql = tree.sql(dialect="duckdb", comments=False)
    logger.debug("translated SELECT at %s to %s", location, duckdb_sql)
    return Translation(duckdb_sql=duckdb_sql, output_columns=names, key_column=key_column)


def _parse_select(select_sql: str, location: SourceLocation) -> _ParsedSelect:
    origin = TextOrigin(location.file, location.line or 1, location.column or 1)
    tokens = _tokenize(select_sql, origin)
    reject_unsupported_keywords(tokens, select_sql, origin)
    select_list = _scan_select_list(select_sql, tokens, origin)
    text = select_list.text

    try:
        statements = sqlglot.parse(text)
    except ParseError as error:
        raise _syntax_error(error, text, origin) from error
    statements = [statement for statement in statements if statement is not None]
    if len(statements) != 1 or not isinstance(statements[0], exp.Select):
        raise InputError(
            "expected one SELECT after AS; write CREATE STREAM name AS SELECT ... FROM source",
            origin.locate(text, 0),
        )

    tree = statements[0]
    reject_unsupported_tree(tree, tokens, text, origin, _duckdb_function_types())
    return _ParsedSelect(tree=tree, tokens=tokens, select_list=select_list, origin=origin, text=text)


def _tokenize(select_sql: str, origin: TextOrigin) -> list[Token]:
    try:
        return Tokenizer().tokenize(select_sql)
    except TokenError as error:
        # Unterminated quotes and comments are located by the masking scanner; anything else
        # the tokenizer rejects is reported at the start of the SELECT.
        mask(select_sql, origin)
        raise InputError(
            f"SQL syntax error: {error}; fix the statement", origin.locate(select_sql, 0)
        ) from error


def _syntax_error(error: ParseError, text: str, origin: TextOrigin) -> InputError:
    details = error.errors[0] if error.errors else {}
    highlight = details.get("highlight") or ""
    line = details.get("line")
    column = details.get("col")
    description = details.get("description") or "invalid SQL"
    # sqlglot 30 words some errors in terms of its expression classes; use plain words instead.
    description = description.split(" for <class", 1)[0]
    if description.startswith("Required keyword"):
        description = "incomplete expression"
    elif description.startswith("Invalid expression"):
        description = "unexpected token"
    location = origin.locate(text, 0)
    if line is not None and column is not None:
        # sqlglot reports the column of the token's last character; point at its first one.
        offset = _offset_of(text, line, max(1, column - len(highlight) + 1))
        location = origin.locate(text, offset)
    near = f" near '{highlight}'" if highlight else ""
    return InputError(f"SQL syntax error{near}: {description}; fix the statement", location)


def _offset_of(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    offset = sum(len(part) + 1 for part in lines[: line - 1])
    return min(len(text), offset + column - 1)


@dataclass
class _SelectList:
    text: str  # the SELECT with `PRIMARY KEY` blanked out
    key_index: int | None  # select-list item marked PRIMARY KEY
    item_texts: list[str]  # each select-list item as written, whitespace collapsed


def _scan_select_list(select_sql: str, tokens: list[Token], origin: TextOrigin) -> _SelectList:
    """Record the select-list items as written and blank out `PRIMARY KEY` after one of them."""
    text = select_sql
    key_index: int | None = None
    spans: list[list[int]] = []
    depth = 0
    in_select_list = False
    for token in tokens:
        kind = token.token_type
        if depth == 0 and kind == TokenType.SELECT:
            in_select_list = True
            spans.append([])
            continue
        if depth == 0 and kind in (TokenType.FROM, TokenType.COMMA) and in_select_list:
            if not spans[-1]:
                # sqlglot drops an empty select-list item silently; a stray comma is a typo.
                raise InputError(
                    f"SQL syntax error near '{token.text}': empty item in the select list; "
                    "remove the extra comma",
                    token_location(token, select_sql, origin),
                )
        if depth == 0 and kind == TokenType.FROM:
            in_select_list = False
        elif depth == 0 and kind == TokenType.COMMA and in_select_list:
            spans.append([])
            continue
        elif kind == TokenType.PRIMARY_KEY:
            location = token_location(token, select_sql, origin)
            if not in_select_list or depth != 0:
                raise InputError(
                    "PRIMARY KEY is allowed only after a column in the select list, "
                    "as in SELECT id PRIMARY KEY, ...",
                    location,
                )
            if key_index is not None:
                raise InputError(
                    "more than one PRIMARY KEY column (a compound key) is not supported; "
                    "mark one column as PRIMARY KEY",
                    location,
                )
            key_index = len(spans) - 1
            text = text[: token.start] + " " * (token.end + 1 - token.start) + text[token.end + 1 :]
            continue

        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
        if in_select_list:
            spans[-1].extend((token.start, token.end + 1))

    without_comments = mask(select_sql, origin, strings=False)
    item_texts = [
        " ".join(without_comments[min(span) : max(span)].split()) if span else "" for span in spans
    ]
    return _SelectList(text=text, key_index=key_index, item_texts=item_texts)


def _output_names(tree: exp.Select, parsed: _ParsedSelect) -> list[str]:
    names: list[str] = []
    item_texts = parsed.select_list.item_texts
    for index, projection in enumerate(tree.expressions):
        if isinstance(projection, exp.Alias):
            name = projection.alias
        elif _is_star(projection):
            name = "*"
        elif isinstance(projection, exp.Column):
            name = _pseudo_or_name(projection.name)
        elif index < len(item_texts) and item_texts[index]:
            # An unaliased expression is named by its text as written, as in `quantity * price`.
            name = item_texts[index]
        else:
            name = projection.sql()
        if name != "*" and name in names:
            raise InputError(
                f"output column '{name}' appears twice in the select list; give one of them "
                "a different alias",
                _node_location(projection, parsed),
            )
        names.append(name)
    return names


def _pseudo_or_name(name: str) -> str:
    lowered = name.lower()
    return lowered if lowered in PSEUDO_COLUMNS else name


def _node_location(node: exp.Expression, parsed: _ParsedSelect) -> SourceLocation:
    starts = [
        identifier.meta["start"]
        for identifier in node.find_all(exp.Identifier)
        if "start" in identifier.meta
    ]
    return parsed.origin.locate(parsed.text, min(starts, default=0))


def _rename_source(tree: exp.Select, table: exp.Table) -> None:
    """Point FROM at the micro-batch relation, keeping the user's alias or the source name."""
    alias = table.args.get("alias")
    if alias is None:
        alias = exp.TableAlias(this=table.this.copy())
    relation = exp.Table(this=exp.to_identifier(SOURCE_RELATION), alias=alias)
    table.replace(relation)


def _rewrite_expressions(tree: exp.Select) -> None:
    for index, projection in enumerate(list(tree.expressions)):
        if _is_star(projection):
            # `*` leaves out the pseudo-columns and the row id; they are selected by name.
            tree.expressions[index].replace(exp.var(_STAR_PROJECTION))

    # Reversed pre-order visits children before their parents, so `a / b / c` nests macros.
    for node in reversed(list(tree.walk(bfs=False))):
        if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
            lowered = node.name.lower()
            if lowered in PSEUDO_COLUMNS:
                # Pseudo-columns are matched case-insensitively: _KEY and _key are one column.
                node.set("this", exp.to_identifier(lowered))
        elif isinstance(node, exp.DataType):
            node.replace(_duckdb_type(node))
        elif isinstance(node, exp.Div):
            node.replace(exp.Anonymous(this=DIVIDE_MACRO, expressions=[node.this, node.expression]))
        elif isinstance(node, exp.Mod):
            node.replace(exp.Anonymous(this=MODULO_MACRO, expressions=[node.this, node.expression]))
        elif isinstance(node, exp.Concat):
            # CONCAT keeps DuckDB's meaning (a NULL argument counts as ''), while `||` with a
            # NULL operand yields NULL as in standard SQL; sqlglot would otherwise write CONCAT
            # as `||` for DuckDB.
            node.replace(exp.Anonymous(this="concat", expressions=list(node.expressions)))


def _is_star(projection: exp.Expression) -> bool:
    return isinstance(projection, exp.Star) or (
        isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
    )


def _duckdb_type(node: exp.DataType) -> exp.DataType:
    # CAST stays CAST, never TRY_CAST: a failing conversion raises DuckDB's ConversionException,
    # so the record goes to the DLQ instead of passing on as NULL.
    if node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        return exp.DataType.build(_PLAIN_DECIMAL, dialect="duckdb")
    mapped = _CAST_TYPES.get(node.this)
    if mapped is None:
        return node
    return exp.DataType.build(mapped, dialect="duckdb")


def _alias_computed_columns(tree: exp.Select, names: list[str]) -> None:
    """Alias unaliased expressions with the name reported in `output_columns`."""
    for projection, name in zip(list(tree.expressions), names):
        if name == "*" or isinstance(projection, exp.Alias):
            continue
        if isinstance(projection, exp.Column) and projection.name == name:
            continue
        projection.replace(exp.alias_(projection.copy(), name, quoted=True))


@functools.lru_cache(maxsize=1)
def _duckdb_function_types() -> dict[str, frozenset[str]]:
    """Return DuckDB's function names (lower case) with their kinds (scalar, aggregate, ...)."""
    kinds: dict[str, set[str]] = {}
    with duckdb.connect() as connection:
        rows = connection.sql(
            "SELECT DISTINCT lower(function_name), function_type FROM duckdb_functions()"
        ).fetchall()
    for name, kind in rows:
        kinds.setdefault(name, set()).add(kind)
    for macro in (DIVIDE_MACRO, MODULO_MACRO):
        kinds.setdefault(macro, set()).add("macro")
    return {name: frozenset(values) for name, values in kinds.items()}

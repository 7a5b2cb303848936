"""Detection of SELECT constructs the stateless executor cannot run, reported with file locations.

A statement runs over one micro-batch at a time with no state kept between batches, so
aggregation, windows, joins, set operations, sorting, row limits and subqueries are rejected.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.sql.text import TextOrigin

_KEYWORDS: dict[TokenType, str] = {
    TokenType.GROUP_BY: "GROUP BY",
    TokenType.HAVING: "HAVING",
    TokenType.WINDOW: "WINDOW",
    TokenType.OVER: "OVER (window function)",
    TokenType.UNION: "UNION",
    TokenType.INTERSECT: "INTERSECT",
    TokenType.EXCEPT: "EXCEPT",
    TokenType.DISTINCT: "DISTINCT",
    TokenType.ORDER_BY: "ORDER BY",
    TokenType.LIMIT: "LIMIT",
    TokenType.OFFSET: "OFFSET",
    TokenType.FETCH: "FETCH",
    TokenType.QUALIFY: "QUALIFY",
    TokenType.JOIN: "JOIN",
}
_JOIN_KINDS = {"LEFT", "RIGHT", "FULL", "INNER", "OUTER", "CROSS", "NATURAL", "SEMI", "ANTI"}


def token_location(token: Token, text: str, origin: TextOrigin) -> SourceLocation:
    """Return the file location of the first character of `token`."""
    return origin.locate(text, token.start)


def unsupported(construct: str, location: SourceLocation) -> InputError:
    """Build the error for a construct the stateless executor cannot run."""
    return InputError(
        f"{construct} is not supported: a statement can only project and filter each record "
        f"of its source; rewrite the statement without {construct}",
        location,
    )


def reject_unsupported_keywords(tokens: list[Token], text: str, origin: TextOrigin) -> None:
    """Raise `InputError` at the first keyword that starts an unsupported construct."""
    for index, token in enumerate(tokens):
        construct = _KEYWORDS.get(token.token_type)
        if construct is None:
            continue
        first = index
        if token.token_type == TokenType.JOIN:
            while first > 0 and tokens[first - 1].text.upper() in _JOIN_KINDS:
                first -= 1
            construct = " ".join(t.text.upper() for t in tokens[first : index + 1])
        raise unsupported(construct, token_location(tokens[first], text, origin))


def reject_unsupported_tree(
    tree: exp.Select,
    tokens: list[Token],
    text: str,
    origin: TextOrigin,
    function_kinds: Mapping[str, frozenset[str]],
) -> None:
    """Raise `InputError` for a parsed SELECT that is not one stateless pass over one source.

    `function_kinds` maps DuckDB function names (lower case) to their kinds, so a call to an
    aggregate or an unknown function is rejected before it reaches DuckDB.
    """
    start = origin.locate(text, 0)
    source = tree.args.get("from_")
    if source is None:
        raise InputError(
            "the SELECT has no FROM clause; name the source stream, as in SELECT ... FROM orders",
            start,
        )
    if not isinstance(source.this, exp.Table) or not source.this.name:
        if isinstance(source.this, exp.Subquery):
            raise unsupported("a subquery", _nested_select_location(tokens, text, origin))
        raise InputError(
            "FROM must name one source stream, as in SELECT ... FROM orders",
            _first_token_location(tokens, TokenType.FROM, text, origin),
        )
    if tree.args.get("joins"):
        raise unsupported("more than one FROM relation", _from_comma_location(tokens, text, origin))

    for node in tree.walk():
        if node is tree:
            continue
        if isinstance(node, (exp.Select, exp.Subquery)):
            raise unsupported("a subquery", _nested_select_location(tokens, text, origin))
        if isinstance(node, exp.Window):
            raise unsupported("OVER (window function)", start)
        if isinstance(node, exp.AggFunc):
            name = node.sql_name()
            raise unsupported(
                f"aggregate function {name}", _call_location(tokens, name, text, origin)
            )
        if isinstance(node, exp.Anonymous):
            _check_function(node.name, function_kinds, tokens, text, origin)


def _check_function(
    name: str,
    function_kinds: Mapping[str, frozenset[str]],
    tokens: list[Token],
    text: str,
    origin: TextOrigin,
) -> None:
    kinds = function_kinds.get(name.lower())
    location = _call_location(tokens, name, text, origin)
    if kinds is None:
        raise InputError(
            f"unknown function {name.upper()}; use a scalar function that DuckDB provides "
            "(UPPER, COALESCE, ROUND, ...)",
            location,
        )
    if kinds & {"scalar", "macro"}:
        return
    if "aggregate" in kinds:
        raise unsupported(f"aggregate function {name.upper()}", location)
    raise unsupported(f"{'/'.join(sorted(kinds))} function {name.upper()}", location)


def _call_location(tokens: list[Token], name: str, text: str, origin: TextOrigin) -> SourceLocation:
    for token, following in zip(tokens, tokens[1:]):
        if following.token_type == TokenType.L_PAREN and token.text.upper() == name.upper():
            return token_location(token, text, origin)
    return origin.locate(text, 0)


def _first_token_location(
    tokens: list[Token], kind: TokenType, text: str, origin: TextOrigin
) -> SourceLocation:
    for token in tokens:
        if token.token_type == kind:
            return token_location(token, text, origin)
    return origin.locate(text, 0)


def _nested_select_location(tokens: list[Token], text: str, origin: TextOrigin) -> SourceLocation:
    selects = [token for token in tokens if token.token_type == TokenType.SELECT]
    if len(selects) > 1:
        return token_location(selects[1], text, origin)
    return origin.locate(text, 0)


def _from_comma_location(tokens: list[Token], text: str, origin: TextOrigin) -> SourceLocation:
    depth = 0
    after_from = False
    for token in tokens:
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and token.token_type == TokenType.FROM:
            after_from = True
        elif depth == 0 and after_from and token.token_type == TokenType.COMMA:
            return token_location(token, text, origin)
    return _first_token_location(tokens, TokenType.FROM, text, origin)

"""One DuckDB query per micro-batch for a statement's SELECT and JSON encoding, bound once.

Run separately, each micro-batch costs three queries (decode, SELECT, encode), each bound and
planned again, with an Arrow table materialised between them. A fused query runs the
statement's SELECT and the encoding together, and also the decoding when the source topic was
written earlier in the same run (the decoder then trusts the layout of its messages). Its relation is bound once and run again
for every batch, since a relation from `con.sql` reads whatever table is registered under its
input name each time it runs.

The fused query must give exactly what the separate queries give. Between separate queries,
rows pass through Arrow, so a fused query is only used when every column on the way keeps its
DuckDB type through Arrow (`ARROW_STABLE_TYPES`). When a fused query raises, the executor runs
the batch again through the separate queries, which isolate failing records.
"""

from __future__ import annotations

import logging
import re

import duckdb
import numpy as np
import pyarrow as pa

from velo_tui.engine.broker.base import MESSAGE_SCHEMA
from velo_tui.engine.decode import RAW_RELATION, Decoder
from velo_tui.engine.encode import encode_sql
from velo_tui.engine.pipeline import ROW_ID_COLUMN, SOURCE_RELATION, Statement

log = logging.getLogger(__name__)

#: DuckDB types that come back from Arrow as the same DuckDB type.
ARROW_STABLE_TYPES = frozenset({
    "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "VARCHAR",
    "DATE", "TIMESTAMP",
})
_DECIMAL = re.compile(r"DECIMAL\(\d+,\s*\d+\)")


def arrow_stable(types: list) -> bool:
    """Return True when every DuckDB type in `types` survives a round trip through Arrow."""
    for duckdb_type in types:
        text = str(duckdb_type).upper()
        if text not in ARROW_STABLE_TYPES and not _DECIMAL.fullmatch(text):
            return False
    return True


def with_row_numbers(messages: pa.Table) -> pa.Table:
    """Return consumed messages with ROW_ID_COLUMN, the row number that failures refer to."""
    return messages.append_column(
        ROW_ID_COLUMN, pa.array(np.arange(messages.num_rows, dtype=np.int64))
    )


class FusedStatement:
    """The fused query of one statement on one connection; see the module docstring.

    `input_relation` is RAW_RELATION when the decoding is fused in (a trusted source), else
    SOURCE_RELATION (the decoded rows, registered by the executor).
    """

    def __init__(self, relation: duckdb.DuckDBPyRelation, input_relation: str, input_schema: pa.Schema) -> None:
        self.relation = relation
        self.input_relation = input_relation
        self.input_schema = input_schema

    def run(self, con: duckdb.DuckDBPyConnection, table: pa.Table) -> pa.Table:
        """Return the encoded rows (`encode_sql` columns) for `table`, the registered input."""
        con.register(self.input_relation, table)
        try:
            return self.relation.to_arrow_table()
        finally:
            con.unregister(self.input_relation)


def fuse_statement(
    con: duckdb.DuckDBPyConnection,
    statement: Statement,
    decoder: Decoder,
    decoded_schema: pa.Schema | None = None,
) -> FusedStatement | None:
    """Bind the fused query of `statement`, or return None when it cannot match the separate path.

    With a trusted decoder the query starts from the consumed messages; otherwise it starts
    from decoded rows of `decoded_schema` (required then).
    """
    if decoder.columns is None:
        return None  # columns inferred per batch: the query would change from batch to batch
    if decoder.trusted:
        input_relation, input_schema = RAW_RELATION, with_row_numbers(MESSAGE_SCHEMA.empty_table()).schema
        source = f"WITH {SOURCE_RELATION} AS ({decoder.trusted_sql()}), "
    elif decoded_schema is not None:
        input_relation, input_schema = SOURCE_RELATION, decoded_schema
        source = "WITH "
    else:
        return None
    result_sql = f"{source}velo_result AS ({statement.duckdb_sql})"

    con.register(input_relation, input_schema.empty_table())
    try:
        if decoder.trusted and not arrow_stable(con.sql(f"{result_sql} SELECT * FROM {SOURCE_RELATION}").types):
            return None
        result = con.sql(f"{result_sql} SELECT * FROM velo_result")
        if not arrow_stable(result.types):
            return None
        result_schema = result.to_arrow_table().schema
        relation = con.sql(f"{result_sql} {encode_sql(result_schema, statement.key_column, 'velo_result')}")
    except duckdb.Error as error:
        # The separate queries report the same error per batch, with the statement's line.
        log.debug("statement %s: no fused query (%s)", statement.name, error)
        return None
    finally:
        con.unregister(input_relation)
    stages = "decode, SELECT and encode" if decoder.trusted else "SELECT and encode"
    log.debug("statement %s: fused %s query bound", statement.name, stages)
    return FusedStatement(relation, input_relation, input_schema)

"""Column names and Arrow/polars schemas of the output contract (docs/architecture.md).

Every file a build writes goes through these definitions, so that all parts of one build share one
schema and readers (stats, trainer, duckdb, `datasets`) never meet a surprise column type.
"""

from __future__ import annotations

import polars as pl

CORE_SCHEMA: dict[str, pl.DataType] = {
    "text": pl.Utf8,
    "label": pl.Utf8,
    "source": pl.Utf8,
    "line": pl.Int64,
    "sentence": pl.Int32,
}
CORPUS_COLUMNS = list(CORE_SCHEMA)

REJECTION_SCHEMA: dict[str, pl.DataType] = {
    "reason": pl.Utf8,
    "score": pl.Float64,
    "ref_source": pl.Utf8,
    "ref_line": pl.Int64,
    "detail": pl.Utf8,
}

DECISION_SCHEMA: dict[str, pl.DataType] = {"row": pl.UInt64, **REJECTION_SCHEMA}


def corpus_schema(annotations: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """Schema of kept rows: the core columns, then the build's annotation columns in stage order."""
    return {**CORE_SCHEMA, **annotations}


def rejected_schema(annotations: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """Schema of rejected rows: kept-row schema plus why and against what the row was rejected."""
    return {**corpus_schema(annotations), **REJECTION_SCHEMA}


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select, order and cast columns to `schema`, adding missing ones as nulls."""
    return df.select(
        [
            (pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype=dtype)).alias(name)
            for name, dtype in schema.items()
        ]
    )


def empty_decisions() -> pl.DataFrame:
    return pl.DataFrame(schema=DECISION_SCHEMA)

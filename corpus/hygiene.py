"""Text hygiene applied to every unit at ingest, as polars expressions over a whole batch.

Stray control characters, BOMs and odd spacing are noise from extraction, not language; NFC makes
the same text compare equal whatever the source's composition. Zero-width joiners/non-joiners (Cf)
are kept: they carry meaning in Persian, Indic and other scripts.
"""

from __future__ import annotations

from typing import Any

import polars as pl

# C0/C1 controls except \t \n \r (which are whitespace and get collapsed), plus BOM / ZWNBSP.
CONTROL_CHARS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\x{FEFF}]"


def clean_expr(config: dict[str, Any]) -> pl.Expr:
    text = pl.col("text").str.replace_all(CONTROL_CHARS, " ")
    form = config.get("normalization", "NFC")
    if form:
        text = text.str.normalize(form)
    if config.get("collapse_whitespace", True):
        text = text.str.replace_all(r"\s+", " ").str.strip_chars(" ")
    else:
        text = text.str.strip_chars()
    return text


def apply_hygiene(df: pl.DataFrame, config: dict[str, Any]) -> pl.DataFrame:
    """Clean `text` where it was read; mark lines that end up empty as `ingest:empty`."""
    df = df.with_columns(clean_expr(config).alias("text"))
    return df.with_columns(
        pl.when(pl.col("reason").is_null() & (pl.col("text").is_null() | (pl.col("text") == "")))
        .then(pl.lit("ingest:empty"))
        .otherwise(pl.col("reason"))
        .alias("reason")
    )

"""Sentence splitting of document-level sources with ICU's sentence break iterator.

ICU implements Unicode's sentence-boundary rules (UAX #29) with CLDR data, so it knows the terminators
of many scripts (। ። ။ ។ 。 ؟ ۔ ...) and, for locales that have them, abbreviation suppressions
(`@ss=standard`: "Mr. Smith" stays one sentence). There is no columnar form for this; it is a per-line
Python call, only for sources marked `split = true`.
"""

from __future__ import annotations

from functools import lru_cache

import icu
import polars as pl

from .labels import iso639_1


@lru_cache(maxsize=512)
def _iterator(language: str) -> icu.BreakIterator:
    code = iso639_1(language) or language
    return icu.BreakIterator.createSentenceInstance(icu.Locale(f"{code}@ss=standard"))


def split_sentences(text: str, language: str) -> list[str]:
    """Sentences of `text` (trimmed, non-empty) for an ISO 639-3 `language`."""
    it = _iterator(language)
    it.setText(text)
    out, start = [], 0
    for end in it:
        piece = text[start:end].strip()
        if piece:
            out.append(piece)
        start = end
    return out or ([text.strip()] if text.strip() else [])


def explode_sentences(df: pl.DataFrame, language: str) -> pl.DataFrame:
    """One row per sentence of each readable line (`sentence` = 1..k); unreadable rows stay as they are
    with `sentence` = 0, so every physical line is still accounted for."""
    ok = df.filter(pl.col("reason").is_null())
    bad = df.filter(pl.col("reason").is_not_null()).with_columns(pl.lit(0, dtype=pl.Int32).alias("sentence"))
    pieces = [split_sentences(t, language) for t in ok.get_column("text").to_list()]
    ok = ok.with_columns(pl.Series("text", pieces, dtype=pl.List(pl.Utf8))).explode("text")
    ok = ok.with_columns((pl.int_range(pl.len()).over("line") + 1).cast(pl.Int32).alias("sentence"))
    return pl.concat([ok, bad.select(ok.columns)]).sort("line", "sentence")

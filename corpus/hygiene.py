"""Text hygiene applied to every unit at ingest.

Stray control characters, BOMs and odd spacing are noise from extraction, not language; NFC makes
the same text compare equal whatever the source's composition. Zero-width joiners/non-joiners (Cf)
are kept: they carry meaning in Persian, Indic and other scripts.

Speed: most lines are already clean, so each rule first finds the rows that need it with a cheap
vectorised `contains` and rewrites only those (a Unicode `replace_all` or `normalize` over every row
costs several µs a line). For NFC, a line can only change if it holds a combining mark, a conjoining
Hangul jamo or a character that is not NFC on its own; lines without any are skipped.
"""

from __future__ import annotations

import sys
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Any

import polars as pl

# C0/C1 controls except \t \n \r (which are whitespace and get collapsed), plus BOM / ZWNBSP.
CONTROL_CHARS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\x{FEFF}]"
# Anything the whitespace rule would change: a run of two, a non-space whitespace, or an edge space.
UNTIDY_SPACE = r"\s\s|[^ \S]|^\s|\s$"


def characters_not_stable_alone(form: str = "NFC") -> list[tuple[int, int]]:
    """Ranges of non-mark characters that `form` changes on their own (CJK compatibility ideographs,
    Ångström sign, ...). Slow (a pass over all of Unicode): run by tools/make_nfc_table.py, whose output
    ships as data and is checked against this function by the tests."""
    singles = [c for c in range(0x80, sys.maxunicode + 1)
               if not (0xD800 <= c <= 0xDFFF) and unicodedata.category(chr(c))[0] not in "MC"
               and unicodedata.normalize(form, chr(c)) != chr(c)]
    ranges: list[tuple[int, int]] = []
    for c in singles:
        if ranges and c == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    return ranges


@lru_cache(maxsize=4)
def _may_change_class(form: str) -> str:
    """Regex class of every character that can make a line change under `form` (a superset): marks,
    conjoining Hangul jamo, and the characters listed in data/<form>_unstable.txt."""
    text = resources.files("glotforge.corpus").joinpath(f"data/{form.lower()}_unstable.txt").read_text("ascii")
    ranges = [tuple(int(x, 16) for x in line.split("-")) for line in text.splitlines() if line and not line.startswith("#")]
    parts = "".join(f"\\x{{{r[0]:X}}}" if len(r) == 1 else f"\\x{{{r[0]:X}}}-\\x{{{r[1]:X}}}" for r in ranges)
    return f"[\\p{{M}}\\x{{1100}}-\\x{{11FF}}{parts}]"


def _rewrite(texts: pl.Series, mask: pl.Series, rewrite) -> pl.Series:
    idx = mask.arg_true()
    return texts if idx.len() == 0 else texts.scatter(idx, rewrite(texts.gather(idx)))


def _masks(texts: pl.Series, form: str | None) -> pl.DataFrame:
    """Which rows each rule must touch, found in one parallel pass over the batch. Replacing control
    characters by spaces cannot change NFC-ness; it can create untidy spacing, so those rows are
    re-spaced too."""
    t = pl.col("t")
    exprs = [t.str.contains(CONTROL_CHARS).fill_null(False).alias("control"),
             t.str.contains(UNTIDY_SPACE).fill_null(False).alias("space")]
    if form:
        exprs.append(t.str.contains(_may_change_class(form)).fill_null(False).alias("norm"))
    return texts.alias("t").to_frame().select(exprs)


def clean_texts(texts: pl.Series, config: dict[str, Any], masks: pl.DataFrame | None = None) -> pl.Series:
    form = config.get("normalization", "NFC")
    masks = masks if masks is not None else _masks(texts, form)
    control = masks.get_column("control")
    texts = _rewrite(texts, control, lambda s: s.str.replace_all(CONTROL_CHARS, " "))
    if form:
        texts = _rewrite(texts, masks.get_column("norm"), lambda s: s.str.normalize(form))
    if config.get("collapse_whitespace", True):
        texts = _rewrite(texts, masks.get_column("space") | control,
                         lambda s: s.str.replace_all(r"\s+", " ").str.strip_chars(" "))
    else:
        texts = texts.str.strip_chars()
    return texts


def binary_rows(texts: pl.Series, max_share: float, control: pl.Series | None = None) -> pl.Series:
    """Rows whose share of control characters says they are binary data (or text read in the wrong
    encoding, e.g. UTF-16 without a BOM), not text with a stray control character."""
    has = control if control is not None else texts.str.contains(CONTROL_CHARS).fill_null(False)
    if not has.any():
        return has
    share = texts.str.count_matches(CONTROL_CHARS) / texts.str.len_chars()
    return has & (share > max_share).fill_null(False)


def apply_hygiene(df: pl.DataFrame, config: dict[str, Any]) -> pl.DataFrame:
    """Clean `text` where it was read; mark binary-looking lines `ingest:binary` and lines that end up
    empty `ingest:empty`."""
    raw = df.get_column("text")
    masks = _masks(raw, config.get("normalization", "NFC"))
    binary = binary_rows(raw, float(config.get("max_control_share", 0.1)), masks.get_column("control"))
    cleaned = clean_texts(raw, config, masks)
    return df.with_columns(
        cleaned.alias("text"),
        pl.when(pl.col("reason").is_not_null()).then(pl.col("reason"))
        .when(binary).then(pl.lit("ingest:binary"))
        .when(cleaned.is_null() | (cleaned == "")).then(pl.lit("ingest:empty"))
        .otherwise(None)
        .alias("reason"),
    )

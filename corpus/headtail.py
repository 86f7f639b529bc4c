"""Glot500's head/tail tiers: head = languages XLM-R was trained on, tail = every other label.

Why data and not code: which labels count as "XLM-R languages" is a published list with known
inconsistencies (Glot500's stats CSV and its evaluation lists disagree), so the mapping lives in
`data/xlmr_languages.tsv` with its provenance, and this module only reads it.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

HEAD_FILE = Path(__file__).parent / "data" / "xlmr_languages.tsv"
HEAD = "head"
TAIL = "tail"


@lru_cache(maxsize=1)
def head_table() -> tuple[dict[str, str], ...]:
    """Rows of the head table (label, iso639_1, name, origin, note); comment lines start with '#'."""
    with HEAD_FILE.open(encoding="utf-8") as fh:
        rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        return tuple(dict(row) for row in rows)


@lru_cache(maxsize=1)
def head_labels() -> frozenset[str]:
    """Labels in Glot500's head tier (the XLM-R languages, in our `xxx_Scrp` spelling)."""
    return frozenset(row["label"] for row in head_table())


def tier(label: str) -> str:
    """'head' if the label is an XLM-R language as Glot500 labelled it, else 'tail'."""
    return HEAD if label in head_labels() else TAIL

"""Build small corpora in the output-contract layout for tests of `train/` (and anyone else).

Why: trainers read `OUT/corpus/<label>/part-*.parquet` files, not `glot build` internals, so their tests
need only that layout. These helpers write it from the bundled UDHR sample (or from given texts) with
the contract's core columns (text, label, source, line, sentence) and types, so tests do not depend on
the build pipeline being ready. Import as `from corpus_fixtures import write_sample_corpus` (pytest puts
`tests/` on sys.path because it has no `__init__.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "corpus" / "data" / "sample" / "udhr_sample.parquet"

CORE_SCHEMA = {"text": pl.Utf8, "label": pl.Utf8, "source": pl.Utf8, "line": pl.Int64, "sentence": pl.Int32}


def sample_frame(labels: Iterable[str] | None = None) -> pl.DataFrame:
    """The bundled UDHR sample (label, text, article, unit, ...), optionally restricted to `labels`."""
    df = pl.read_parquet(SAMPLE)
    if labels is not None:
        df = df.filter(pl.col("label").is_in(list(labels)))
    return df


def write_label_parts(
    out: Path, label: str, texts: list[str], rows_per_part: int | None = None, source: str | None = None
) -> list[Path]:
    """Write one label's texts as `out/corpus/<label>/part-0000k.parquet` (contract columns)."""
    d = Path(out) / "corpus" / label
    d.mkdir(parents=True, exist_ok=True)
    src = source or f"{label}.txt"
    step = rows_per_part or max(1, len(texts))
    paths = []
    for k, start in enumerate(range(0, max(1, len(texts)), step)):
        chunk = texts[start : start + step]
        df = pl.DataFrame(
            {
                "text": chunk,
                "label": [label] * len(chunk),
                "source": [src] * len(chunk),
                "line": list(range(start + 1, start + 1 + len(chunk))),
                "sentence": [0] * len(chunk),
            },
            schema=CORE_SCHEMA,
        )
        p = d / f"part-{k:05d}.parquet"
        df.write_parquet(p, compression="zstd")
        paths.append(p)
    return paths


def write_corpus(
    out: Path, texts_by_label: Mapping[str, list[str]], rows_per_part: int | None = None
) -> Path:
    """Write a whole corpus from {label: texts}; returns `out` (the OUT folder, holding `corpus/`)."""
    for label in sorted(texts_by_label):
        write_label_parts(out, label, list(texts_by_label[label]), rows_per_part)
    return Path(out)


def write_sample_corpus(
    out: Path, labels: Iterable[str] | None = None, repeat: int = 1, rows_per_part: int | None = None
) -> Path:
    """The bundled sample as a corpus in contract layout under `out/corpus/` (one folder per label).

    `repeat` > 1 concatenates the texts of each label that many times, to fake bigger labels.
    Rows keep the sample's order (article, unit), like a build's canonical order.
    """
    df = sample_frame(labels).sort(["label", "article", "unit"])
    by_label = {
        str(key[0]): g["text"].to_list() * repeat for key, g in df.group_by("label", maintain_order=True)
    }
    return write_corpus(Path(out), by_label, rows_per_part)

"""Shared helpers for tests that run `glot build`: copying sample sources, reading outputs, comparing bytes.

Kept free of ../shared: everything comes from the bundled sample (corpus/data/sample).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SOURCES = REPO / "corpus" / "data" / "sample" / "sources"


def copy_sample_sources(dest: Path, every: int = 1) -> Path:
    """Copy every `every`-th sample source (sorted) to `dest`, keeping sub-folders."""
    files = sorted(p for p in SAMPLE_SOURCES.rglob("*") if p.is_file())[::every]
    for f in files:
        target = dest / f.relative_to(SAMPLE_SOURCES)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    return dest


def read_outputs(out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept rows, rejected rows) of a build."""
    kept = [pl.read_parquet(p) for p in sorted((out / "corpus").rglob("*.parquet"))]
    rej = [pl.read_parquet(p) for p in sorted((out / "rejected").rglob("*.parquet"))]
    return (pl.concat(kept, how="diagonal_relaxed") if kept else pl.DataFrame(),
            pl.concat(rej, how="diagonal_relaxed") if rej else pl.DataFrame())


def output_bytes(out: Path) -> dict[str, bytes]:
    """Every output file (not the _work folder) by relative path."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "_work" not in p.relative_to(out).parts
    }

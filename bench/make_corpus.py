"""Generate a benchmark corpus of N lines from the UDHR Parquet, in mixed formats and compressions.

    python bench/make_corpus.py --lines 1000000 --out bench/data/corpus-1m [--udhr ../shared/data/udhr/udhr.parquet]

Each output file holds the units of one declaration repeated (with a copy number appended, so lines
stay distinct) up to ~5,000 lines, in one of eight format/compression combinations chosen round-robin.
Deterministic for the same arguments.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import polars as pl
import zstandard

FORMATS = ["txt", "txt.gz", "jsonl", "jsonl.gz", "tsv", "csv", "parquet", "txt.zst"]


def write_file(path: Path, kind: str, lines: list[str]) -> None:
    if kind in ("txt", "txt.gz", "txt.zst"):
        body = ("\n".join(lines) + "\n").encode()
    elif kind.startswith("jsonl"):
        body = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in lines).encode()
    elif kind == "tsv":
        body = ("text\n" + "\n".join(t.replace("\t", " ") for t in lines) + "\n").encode()
    elif kind == "csv":
        pl.DataFrame({"text": lines}).write_csv(path)
        return
    else:
        pl.DataFrame({"text": lines}).write_parquet(path, compression="zstd")
        return
    if kind.endswith(".gz"):
        body = gzip.compress(body, compresslevel=6, mtime=0)
    elif kind.endswith(".zst"):
        body = zstandard.ZstdCompressor(level=3).compress(body)
    path.write_bytes(body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=Path("bench/data/corpus-1m"))
    ap.add_argument("--udhr", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/udhr/udhr.parquet")
    ap.add_argument("--per-file", type=int, default=5000)
    a = ap.parse_args()
    df = pl.read_parquet(a.udhr).filter(pl.col("stage") >= 3)
    groups = df.group_by("code", maintain_order=True).agg(pl.col("label").first(), pl.col("text"))
    groups = groups.sort("code")
    a.out.mkdir(parents=True, exist_ok=True)
    written, i = 0, 0
    rows = groups.rows()
    while written < a.lines:
        code, label, texts = rows[i % len(rows)]
        rnd = i // len(rows)
        n = min(a.per_file, a.lines - written)
        lines = [f"{texts[k % len(texts)]} {rnd}-{k // len(texts)}" for k in range(n)]
        kind = FORMATS[i % len(FORMATS)]
        folder = a.out / label
        folder.mkdir(exist_ok=True)
        write_file(folder / f"{code}-{rnd:03d}.{kind}", kind, lines)
        written += n
        i += 1
    size = sum(p.stat().st_size for p in a.out.rglob("*") if p.is_file())
    print(f"{written:,} lines in {i} files ({size / 1e6:.1f} MB on disk) -> {a.out}")


if __name__ == "__main__":
    main()

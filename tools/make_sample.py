"""Regenerate the bundled UDHR sample (corpus/data/sample/) from the full UDHR Parquet.

Developers only: the project never reads the full data at run time. Deterministic: the same input
gives the same files.

    python tools/make_sample.py ../shared/data/udhr/udhr.parquet
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import sys
from pathlib import Path

import polars as pl
import zstandard

OUT = Path(__file__).resolve().parent.parent / "corpus" / "data" / "sample"

# High-resource languages the tests use as a "base" (tokenizer, LID), always included.
ALWAYS = [
    "eng_Latn", "fra_Latn", "deu_Latn", "spa_Latn", "por_Latn", "ita_Latn", "nld_Latn", "pol_Latn",
    "tur_Latn", "vie_Latn", "ind_Latn", "swh_Latn", "fin_Latn", "ces_Latn", "ron_Latn", "hun_Latn",
    "yor_Latn", "hau_Latn", "zul_Latn", "quy_Latn",
]
LATIN_EVERY = 6  # plus every 6th other Latin label, sorted


def choose_declarations(df: pl.DataFrame) -> pl.DataFrame:
    """One declaration per label: the most complete stage>=3 one (ties: smallest code)."""
    decl = (
        df.filter(pl.col("stage") >= 3)
        .group_by("code", "label", "script")
        .agg(pl.len().alias("n"))
        .sort(["label", "n", "code"], descending=[False, True, False])
        .unique("label", keep="first", maintain_order=True)
    )
    latin = decl.filter(pl.col("script") == "Latn").sort("label")
    others = latin.filter(~pl.col("label").is_in(ALWAYS)).gather_every(LATIN_EVERY)
    keep = pl.concat([decl.filter(pl.col("script") != "Latn"), latin.filter(pl.col("label").is_in(ALWAYS)), others])
    return keep.sort("label")


def write_sources(sample: pl.DataFrame, root: Path) -> None:
    labels = sample.get_column("label").unique().sort().to_list()
    for i, label in enumerate(labels):
        rows = sample.filter(pl.col("label") == label).sort("article", "unit")
        lines = rows.get_column("text").to_list()
        iso, script = label.split("_")
        body = ("\n".join(lines) + "\n").encode()
        kind = i % 9
        if kind == 0:
            (root / f"{label}.txt").write_bytes(body)
        elif kind == 1:
            data = "".join(json.dumps({"id": n, "text": t}, ensure_ascii=False) + "\n" for n, t in enumerate(lines, 1))
            (root / f"{iso}-{script}.jsonl").write_text(data, "utf-8")
        elif kind == 2:
            (root / f"{label}.txt.gz").write_bytes(gzip.compress(body, mtime=0))
        elif kind == 3:
            buf = io.StringIO()
            w = csv.writer(buf, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
            w.writerow(["id", "text"])
            w.writerows([[n, t] for n, t in enumerate(lines, 1)])
            (root / f"{label}.tsv").write_text(buf.getvalue(), "utf-8")
        elif kind == 4:
            pl.DataFrame({"text": lines}).write_parquet(root / f"{label}.parquet", compression="zstd")
        elif kind == 5:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["text", "article"])
            w.writerows([[t, a] for t, a in zip(lines, rows.get_column("article").to_list(), strict=True)])
            (root / f"{label}.csv").write_text(buf.getvalue(), "utf-8")
        elif kind == 6:
            data = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in lines).encode()
            (root / f"{label}.ndjson.xz").write_bytes(lzma.compress(data))
        elif kind == 7:
            folder = root / iso  # label from the folder name, script from the text
            folder.mkdir(exist_ok=True)
            (folder / "udhr.txt.bz2").write_bytes(bz2.compress(body))
        else:
            (root / f"{label}.txt.zst").write_bytes(zstandard.ZstdCompressor(level=10).compress(body))


def main(src: str) -> None:
    df = pl.read_parquet(src)
    chosen = choose_declarations(df)
    sample = (
        df.join(chosen.select("code"), on="code", how="semi")
        .select("label", "code", "iso639_3", "bcp47", "name", "script", "direction", "article", "unit", "kind", "text")
        .sort("label", "article", "unit")
    )
    OUT.mkdir(parents=True, exist_ok=True)
    sample.write_parquet(OUT / "udhr_sample.parquet", compression="zstd", compression_level=19)
    sources = OUT / "sources"
    if sources.exists():
        for p in sorted(sources.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    sources.mkdir()
    write_sources(sample, sources)
    print(f"{sample.height} units, {sample['label'].n_unique()} labels, {sample['script'].n_unique()} scripts -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/udhr/udhr.parquet")

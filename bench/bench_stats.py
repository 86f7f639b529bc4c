"""Benchmark `glot stats` and `glot report` on a synthetic 2000-label, 10M-line build output.

Why synthetic: the speed target (issue 6: under a minute for 2000 labels and 10M lines on the 2-core
development machine) is about the shape of the output — many label folders, Zipf-like sizes, several
sources per label, rejected rows with reasons, counters — not about the words. The generator writes
that shape in the output contract quickly (a pool of random sentences, each line made unique by its
line number), with counters computed independently (single-spaced text: words = spaces + 1).

    .venv/bin/python bench/bench_stats.py                    # 2000 labels, 10M lines, bench/out/stats2000
    .venv/bin/python bench/bench_stats.py --labels 200 --lines 1000000 --out /tmp/b   # quick run

Prints one JSON line with the timings (seconds) and sizes; docs/benchmarks.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = ["Latn", "Cyrl", "Arab", "Deva", "Hani", "Ethi", "Grek", "Thai", "Beng", "Hebr"]
ALPHABETS = {"Latn": "abcdefghijklmnopqrstuvwxyzáéíóúñç", "Cyrl": "абвгдежзийклмнопрстуфхцчшщыэюя",
             "Arab": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "Deva": "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशसह",
             "Hani": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年", "Ethi": "ሀለሐመሠረሰሸቀበተቸኀነኘአከኸወዐዘዠየደጀገጠጨጰጸፀፈፐ",
             "Grek": "αβγδεζηθικλμνξοπρστυφχψω", "Thai": "กขคฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ",
             "Beng": "অআইঈউঊঋএঐওঔকখগঘঙচছজঝঞটঠডঢণতথদধনপফবভমযরলশষসহ", "Hebr": "אבגדהוזחטיכלמנסעפצקרשת"}
REASONS = ["ingest:empty", "script:mismatch", "quality:too_short", "quality:char_repetition", "langid:mismatch",
           "dedup:exact", "dedup:near"]


def _pool(rng: np.random.Generator, script: str, n: int) -> pl.Series:
    """n random sentences of 4-16 words drawn from a 3000-word vocabulary of the script's letters."""
    letters = np.array(list(ALPHABETS[script]))
    vocab = ["".join(rng.choice(letters, size=rng.integers(2, 9))) for _ in range(3000)]
    words = rng.integers(0, len(vocab), size=n * 16)
    lens = rng.integers(4, 17, size=n)
    return pl.Series("text", [" ".join(vocab[w] for w in words[i * 16:i * 16 + k]) for i, k in enumerate(lens)])


def generate(out: Path, labels: int, lines: int, seed: int = 0, rows_per_part: int = 500_000) -> dict:
    """Write OUT/corpus, OUT/rejected and OUT/stats for `labels` labels totalling `lines` units."""
    rng = np.random.default_rng(seed)
    pools = {s: _pool(rng, s, 20_000) for s in SCRIPTS}
    weights = 1.0 / np.arange(1, labels + 1) ** 1.05
    sizes = np.maximum(20, np.floor(weights / weights.sum() * lines)).astype(np.int64)
    sizes[0] += lines - sizes.sum()
    label_rows, source_rows = [], []
    for i in range(labels):
        script = SCRIPTS[i % len(SCRIPTS)]
        label = f"{chr(97 + i // 676 % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i % 26)}_{script}"
        n = int(sizes[i])
        pool = pools[script]
        idx = rng.integers(0, len(pool), size=n)
        nsrc = 1 + i % 3
        src_idx = np.sort(rng.integers(0, nsrc, size=n))
        sources = [f"{label}/{k}.txt" for k in range(nsrc)]
        reason_idx = np.where(rng.random(n) < 0.06, rng.integers(0, len(REASONS), size=n), -1)
        df = pl.DataFrame({
            "text": pool.gather(idx) + pl.Series(np.arange(n)).cast(pl.Utf8).str.replace(r"^", " n"),
            "label": pl.repeat(label, n, eager=True), "source": pl.Series(sources).gather(src_idx),
            "line": pl.Series(np.arange(1, n + 1), dtype=pl.Int64), "sentence": pl.repeat(0, n, dtype=pl.Int32, eager=True),
            "script": pl.repeat(script, n, eager=True),
            "reason": pl.Series([None, *REASONS], dtype=pl.Utf8).gather(reason_idx + 1),
        })
        kept = df.filter(pl.col("reason").is_null()).drop("reason")
        rej = df.filter(pl.col("reason").is_not_null()).with_columns(
            pl.lit(0.5).alias("score"), pl.lit(None, pl.Utf8).alias("ref_source"),
            pl.lit(None, pl.Int64).alias("ref_line"), pl.lit(None, pl.Utf8).alias("detail"))
        for kind, part in (("corpus", kept), ("rejected", rej)):
            d = out / kind / label
            d.mkdir(parents=True, exist_ok=True)
            for k, start in enumerate(range(0, max(part.height, 1), rows_per_part)):
                part.slice(start, rows_per_part).write_parquet(d / f"part-{k:05d}.parquet", compression="zstd")
        k_src = kept.group_by("source").agg(pl.len().alias("kept"))
        r_src = rej.group_by("source", "reason").len()
        by_src = {s: {} for s in sources}
        for s, r, c in r_src.iter_rows():
            by_src[s][r] = c
        kept_by = dict(k_src.iter_rows())
        for s in sources:
            units = kept_by.get(s, 0) + sum(by_src[s].values())
            source_rows.append({"source": s, "label": label, "format": "txt", "priority": 0, "licence": "CC-BY-4.0",
                                "url": None, "lines": units, "units": units, "kept": kept_by.get(s, 0),
                                "rejected": sum(by_src[s].values()), "rejected_by_reason": json.dumps(dict(sorted(by_src[s].items()))),
                                "damaged": False, "damage": None})
        by = dict(rej.group_by("reason").len().iter_rows())
        label_rows.append({"label": label, "script": script, "sources": nsrc, "lines": n, "units": n,
                           "kept": kept.height, "rejected": rej.height,
                           "rejected_by_reason": json.dumps(dict(sorted(by.items()))),
                           "chars": int(kept["text"].str.len_chars().sum()),
                           "words": int((kept["text"].str.count_matches(" ") + 1).sum())})
    st = out / "stats"
    st.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(label_rows).write_parquet(st / "labels.parquet")
    pl.DataFrame(source_rows, infer_schema_length=None).write_parquet(st / "sources.parquet")
    audit = [{"source": s["source"], "share_elsewhere": float(rng.random() * 0.4),
              "top_predicted": [[s["label"], 0.8]], "flagged": False} for s in source_rows]
    (st / "lid_audit.json").write_text(json.dumps(audit))
    meta = {"labels": labels, "lines": int(sizes.sum()), "seed": seed}
    (out / "bench_meta.json").write_text(json.dumps(meta))
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=int, default=2000)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "stats2000")
    ap.add_argument("--regen", action="store_true", help="regenerate even if OUT matches")
    args = ap.parse_args()
    meta_file = args.out / "bench_meta.json"
    want = {"labels": args.labels, "lines": args.lines, "seed": 0}
    t0 = time.perf_counter()
    if args.regen or not meta_file.exists() or json.loads(meta_file.read_text()) != want:
        shutil.rmtree(args.out, ignore_errors=True)
        generate(args.out, args.labels, args.lines)
    gen_s = time.perf_counter() - t0

    glot = str(Path(sys.executable).parent / "glot")
    timings = {}
    for name, cmd in (("stats_cli", [glot, "stats", str(args.out), "--format", "json"]),
                      ("stats_by_source_cli", [glot, "stats", str(args.out), "--by", "source", "--format", "csv"]),
                      ("report_cli", [glot, "report", str(args.out), "-o", str(args.out / "report.html")])):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"})
        timings[name] = round(time.perf_counter() - t, 2)
    size = sum(f.stat().st_size for f in args.out.rglob("*.parquet"))
    print(json.dumps({"labels": args.labels, "lines": args.lines, "parquet_mb": round(size / 2**20, 1),
                      "report_kb": round((args.out / "report.html").stat().st_size / 1024),
                      "generate_s": round(gen_s, 1), **timings, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()

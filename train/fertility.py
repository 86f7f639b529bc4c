"""Per-language tokenizer fertility before vs after vocabulary extension (`glot vocab report`).

Why: the point of extending XLM-R's vocabulary is that tail languages stop falling apart into
characters and `<unk>`; this report shows that per label, and also how much the extension disturbed
languages the base already covered (share of lines whose segmentation changed).

Measures, per label and tokenizer (SentencePiece pieces, no `<s>`/`</s>`; computed with the C++
SentencePiece encoder, about 10x faster than the HF one on the same model):
- `tokens_per_unit`: pieces per whitespace-separated word (Ethiopic also splits on `፡`), or per character (code point, whitespace
  excluded) for scripts written without spaces (list in `scripts.toml`, chosen by the label's script);
- `unk_rate`: share of pieces that are `<unk>`;
- `byte_share`: share of byte-fallback pieces (`<0xNN>`; 0 for XLM-R, which has no byte fallback);
- `char_share`: share of single-character pieces (leading `▁` ignored): for alphabetic scripts a sign
  that words are spelled out letter by letter (character fallback).
Between the two tokenizers, `changed_lines` is the share of lines segmented differently.
Read tokens/unit together with `unk_rate`: SentencePiece folds a run of unknown characters into one
`<unk>`, so a script the base lacked can show *more* pieces per word after extension.

Files: `<extended tokenizer>/fertility.json` always, and `OUT/stats/vocab_report.json` when the text
came from a build folder `OUT` (the HTML report shows that file when present). JSON layout: see
`fertility_report`.
"""

from __future__ import annotations

import json
import statistics
import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import polars as pl

from .sampling import sample_label_texts
from .vocab_merge import find_spm_model

REPORT_FILE = "fertility.json"
STATS_FILE = "vocab_report.json"
MEASURES = ("tokens", "tokens_per_unit", "unk_rate", "byte_share", "char_share")


@cache
def _scripts_data() -> dict:
    return tomllib.loads((Path(__file__).with_name("scripts.toml")).read_text(encoding="utf-8"))


def nonspacing_scripts() -> frozenset[str]:
    """Scripts measured per character, from `scripts.toml` (data, not code)."""
    return frozenset(_scripts_data()["nonspacing"])


def count_words(text: str, script: str) -> int:
    """Whitespace-separated words, also splitting on the script's own word separators (Ethiopic `፡`)."""
    for sep in _scripts_data().get("word_separators", {}).get(script, ()):
        text = text.replace(sep, " ")
    return len(text.split())


def unit_of(label: str) -> str:
    """'char' for labels in a non-spacing script (`tha_Thai`), else 'word'."""
    script = label.rsplit("_", 1)[-1]
    return "char" if script in nonspacing_scripts() else "word"


def _load(model: str | Path):
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(find_spm_model(model)))


def _piece_flags(sp) -> tuple[list[bool], list[bool]]:
    """Per id: is it a byte piece, is it a single character (ignoring the word-start `▁`)."""
    n = sp.get_piece_size()
    byte = [sp.is_byte(i) for i in range(n)]
    single = []
    for i in range(n):
        p = sp.id_to_piece(i).removeprefix("▁")
        single.append(len(p) == 1 and not sp.is_control(i) and not sp.is_unknown(i) and not byte[i])
    return byte, single


def measure(sp, texts: Sequence[str], flags=None) -> tuple[dict, list[list[int]]]:
    """Counts for one tokenizer on one label's texts; also returns the ids (to compare segmentations)."""
    byte, single = flags or _piece_flags(sp)
    ids = sp.encode(list(texts))
    unk = sp.unk_id()
    tokens = sum(len(x) for x in ids)
    n_unk = sum(x.count(unk) for x in ids)
    n_byte = sum(byte[i] for x in ids for i in x)
    n_single = sum(single[i] for x in ids for i in x)
    return {"tokens": tokens, "unk": n_unk, "byte": n_byte, "single": n_single}, ids


def _ratios(c: dict, units: int) -> dict:
    t = max(c["tokens"], 1)
    return {
        "tokens": c["tokens"],
        "tokens_per_unit": c["tokens"] / units if units else None,
        "unk_rate": c["unk"] / t,
        "byte_share": c["byte"] / t,
        "char_share": c["single"] / t,
    }


def fertility_report(
    before: str | Path, after: str | Path, texts_by_label: Mapping[str, Sequence[str]], source: str = ""
) -> dict:
    """The report as a JSON-able dict:
    {"tokenizers": {"before", "after"}, "source", "labels": [{label, script, unit, lines, words, chars,
    units, changed_lines, before: {MEASURES}, after: {MEASURES}}], "summary": {...}}."""
    sp_a, sp_b = _load(before), _load(after)
    fa, fb = _piece_flags(sp_a), _piece_flags(sp_b)
    rows = []
    for label in sorted(texts_by_label):
        texts = [t for t in texts_by_label[label] if t]
        if not texts:
            continue
        script = label.rsplit("_", 1)[-1]
        words = sum(count_words(t, script) for t in texts)
        chars = sum(len(t) - sum(c.isspace() for c in t) for t in texts)
        unit = unit_of(label)
        units = chars if unit == "char" else words
        ca, ids_a = measure(sp_a, texts, fa)
        cb, ids_b = measure(sp_b, texts, fb)
        changed = sum(
            [sp_a.id_to_piece(i) for i in x] != [sp_b.id_to_piece(i) for i in y]
            for x, y in zip(ids_a, ids_b, strict=True)
        )
        rows.append(
            {
                "label": label,
                "script": script,
                "unit": unit,
                "lines": len(texts),
                "words": words,
                "chars": chars,
                "units": units,
                "changed_lines": changed / len(texts),
                "before": _ratios(ca, units),
                "after": _ratios(cb, units),
            }
        )
    return {
        "version": 1,
        "tokenizers": {"before": str(before), "after": str(after)},
        "source": source,
        "labels": rows,
        "summary": _summary(rows),
    }


def _summary(rows: list[dict]) -> dict:
    if not rows:
        return {"labels": 0}
    ratio = [
        r["after"]["tokens_per_unit"] / r["before"]["tokens_per_unit"]
        for r in rows
        if r["before"]["tokens_per_unit"]
    ]
    return {
        "labels": len(rows),
        "labels_fewer_tokens": sum(r["after"]["tokens"] < r["before"]["tokens"] for r in rows),
        "labels_more_tokens": sum(r["after"]["tokens"] > r["before"]["tokens"] for r in rows),
        "median_tokens_per_unit_ratio": statistics.median(ratio) if ratio else None,
        "macro_unk_rate_before": statistics.fmean(r["before"]["unk_rate"] for r in rows),
        "macro_unk_rate_after": statistics.fmean(r["after"]["unk_rate"] for r in rows),
        "macro_char_share_before": statistics.fmean(r["before"]["char_share"] for r in rows),
        "macro_char_share_after": statistics.fmean(r["after"]["char_share"] for r in rows),
        "macro_changed_lines": statistics.fmean(r["changed_lines"] for r in rows),
    }


def report_frame(report: dict) -> pl.DataFrame:
    """One row per label, before/after side by side (for the table and for analysis)."""
    recs = []
    for r in report["labels"]:
        rec = {k: r[k] for k in ("label", "unit", "lines", "units", "changed_lines")}
        for side in ("before", "after"):
            rec.update({f"{m}_{side}": r[side][m] for m in MEASURES})
        recs.append(rec)
    return pl.DataFrame(recs)


def format_table(report: dict, limit: int | None = None) -> str:
    """A plain-text table: tokens/unit and `<unk>` %, before → after, per label."""
    head = f"{'label':<14} {'unit':<4} {'lines':>6} {'tok/unit':>17} {'unk %':>15} {'1-char %':>15} {'changed':>7}"
    out = [head, "-" * len(head)]
    for r in report["labels"][:limit]:
        b, a = r["before"], r["after"]
        tpu = f"{b['tokens_per_unit'] or 0:7.2f} → {a['tokens_per_unit'] or 0:7.2f}"
        unk = f"{100 * b['unk_rate']:5.1f} → {100 * a['unk_rate']:5.1f}"
        one = f"{100 * b['char_share']:5.1f} → {100 * a['char_share']:5.1f}"
        out.append(
            f"{r['label']:<14} {r['unit']:<4} {r['lines']:>6} {tpu:>17} {unk:>15} {one:>15} "
            f"{100 * r['changed_lines']:6.1f}%"
        )
    s = report["summary"]
    if s.get("labels"):
        out.append(
            f"{s['labels']} labels: {s['labels_fewer_tokens']} with fewer tokens, median tok/unit ratio "
            f"{s['median_tokens_per_unit_ratio']:.3f}, macro <unk> {100 * s['macro_unk_rate_before']:.2f}% → "
            f"{100 * s['macro_unk_rate_after']:.2f}%"
        )
    return "\n".join(out)


def texts_for_report(
    path: str | Path, per_label: int = 1000, seed: int = 0
) -> tuple[dict[str, list[str]], str]:
    """Evaluation texts by label from a build folder (OUT or OUT/corpus) or a Parquet table with
    `label` and `text` columns (e.g. a UDHR file). Returns (texts, description)."""
    p = Path(path)
    if p.is_file():
        df = pl.read_parquet(p, columns=["label", "text"]).drop_nulls()
        df = df.with_columns(pl.int_range(pl.len()).over("label").alias("_k")).filter(
            pl.col("_k") < per_label
        )
        texts = {str(k[0]): g["text"].to_list() for k, g in df.group_by("label", maintain_order=True)}
        return texts, f"{p} (first {per_label} rows per label)"
    return sample_label_texts(p, per_label, seed), f"{p} ({per_label} random rows per label, seed {seed})"


def write_report(report: dict, tokenizer_dir: str | Path, corpus: str | Path | None = None) -> list[Path]:
    """Write `fertility.json` into the extended tokenizer folder and, for a build folder, also
    `OUT/stats/vocab_report.json`. Returns the paths written."""
    text = json.dumps(report, indent=1, ensure_ascii=False) + "\n"
    paths = [Path(tokenizer_dir) / REPORT_FILE]
    if corpus is not None:
        c = Path(corpus)
        out = c.parent if c.name == "corpus" and not (c / "corpus").is_dir() else c
        if c.is_dir() and (out / "corpus").is_dir():
            paths.append(out / "stats" / STATS_FILE)
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return paths

"""Evaluate a fastText LID model on labelled Parquet: macro-F1, per-label P/R/F1, confused pairs.

Used by `glot lid eval`, by `glot lid train` on its held-out split and by bench/lid_udhr_quality.py,
so that every LID figure in the docs comes from one definition:

* macro-F1 is the unweighted mean of per-label F1 over the *gold* labels the model can name
  (`macro_f1`); labels it cannot name are listed in `unknown_labels` and included only in
  `macro_f1_all` (a model must not be scored down for languages it was never trained on, and must
  not hide them either);
* `match = "exact"` compares Glot labels as they are (right for models trained on Glot labels);
  `match = "group"` counts macrolanguage / close-variety / script-less predictions as correct with
  the same rules as the langid stage (right for lid.176 or GlotLID against our labels).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from .langid import LangIdError, LidModel, load_model
from .lid_labels import LabelGroups


@dataclass
class LabelScore:
    label: str
    support: int
    predicted: int
    precision: float
    recall: float
    f1: float


@dataclass
class EvalReport:
    model: str
    data: str
    match: str
    lines: int
    accuracy: float
    macro_f1: float
    macro_f1_all: float
    labels: int
    unknown_labels: list[str]
    per_label: list[LabelScore]
    confused: list[dict]
    lines_per_s: float
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def worst(self, n: int = 10) -> list[LabelScore]:
        return sorted(self.per_label, key=lambda s: (s.f1, s.label))[:n]


def score_predictions(gold: list[str], pred: list[str | None], known: set[str] | None = None,
                      top_confused: int = 20) -> dict:
    """Accuracy, macro-F1 and per-label P/R/F1 of predictions against gold labels (pure function)."""
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    tp: Counter = Counter()
    npred: Counter = Counter()
    support = Counter(gold)
    pairs: Counter = Counter()
    for g, p in zip(gold, pred, strict=True):
        npred[p] += 1
        if p == g:
            tp[g] += 1
        else:
            pairs[(g, p)] += 1
    per_label = []
    for label in sorted(support):
        prec = tp[label] / npred[label] if npred[label] else 0.0
        rec = tp[label] / support[label]
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_label.append(LabelScore(label, support[label], npred[label], round(prec, 4), round(rec, 4),
                                    round(f1, 4)))
    known = set(support) if known is None else known
    on_known = [s.f1 for s in per_label if s.label in known]
    confused = [{"gold": g, "pred": p, "count": n}
                for (g, p), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0][0], str(kv[0][1])))]
    return {
        "lines": len(gold),
        "accuracy": round(sum(tp.values()) / len(gold), 4) if gold else 0.0,
        "macro_f1": round(sum(on_known) / len(on_known), 4) if on_known else 0.0,
        "macro_f1_all": round(sum(s.f1 for s in per_label) / len(per_label), 4) if per_label else 0.0,
        "labels": len(support),
        "unknown_labels": sorted(set(support) - known),
        "per_label": per_label,
        "confused": confused[:top_confused],
    }


def read_labelled(data: str | os.PathLike | pl.DataFrame, text_col: str = "text",
                  label_col: str = "label") -> pl.DataFrame:
    """A DataFrame, a Parquet file, a folder of Parquet files or a build's OUT dir → (text, label)."""
    if isinstance(data, pl.DataFrame):
        df = data
    else:
        path = Path(data)
        if path.is_dir():
            corpus = path / "corpus"
            root = corpus if corpus.is_dir() else path
            files = sorted(root.rglob("*.parquet"))
            if not files:
                raise FileNotFoundError(f"{path}: no Parquet files")
        elif path.is_file():
            files = [path]
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
        frames = []
        for f in files:
            names = pl.read_parquet_schema(f)
            if text_col not in names or label_col not in names:
                raise ValueError(f"{f}: no {text_col!r} and {label_col!r} columns (see --text-col, --label-col)")
            frames.append(pl.read_parquet(f, columns=[text_col, label_col]))
        df = pl.concat(frames)
    missing = {text_col, label_col} - set(df.columns)
    if missing:
        raise ValueError(f"labelled data lacks column(s) {', '.join(sorted(missing))}")
    return df.select(pl.col(text_col).alias("text"), pl.col(label_col).alias("label")).drop_nulls()


def predict_labels(model: LidModel, texts: list[str], groups: LabelGroups | None = None,
                   declared: list[str] | None = None, batch: int = 100_000) -> list[str | None]:
    """Top-1 Glot label per text. With `groups` and `declared`, a prediction that the langid stage
    would accept for the declared label is returned as the declared label itself."""
    by_raw = model.by_raw
    judged: dict[tuple[str, str], str] = {}  # (raw prediction, gold) → label to report
    out: list[str | None] = []
    for start in range(0, len(texts), batch):
        chunk = [t.replace("\n", " ").replace("\r", " ") for t in texts[start:start + batch]]
        labels, _ = model.predict(chunk)
        for i, lab in enumerate(labels):
            if not lab:
                out.append(None)
                continue
            m = by_raw[lab[0]]
            if groups is not None and declared is not None:
                key = (lab[0], declared[start + i])
                if key not in judged:
                    judged[key] = key[1] if groups.same(m, key[1]) else groups.shown_label(m, key[1])
                out.append(judged[key])
            else:
                out.append(m.default)
    return out


def evaluate_model(model_ref: str | os.PathLike, data: str | os.PathLike | pl.DataFrame, *,
                   match: str = "exact", text_col: str = "text", label_col: str = "label",
                   groups_file: str | None = None, top_confused: int = 20) -> EvalReport:
    """Evaluate a fastText LID model (path or hf:// ref) on labelled data; see module docstring."""
    if match not in {"exact", "group"}:
        raise ValueError(f"match={match!r}: expected 'exact' or 'group'")
    df = read_labelled(data, text_col, label_col)
    if df.height == 0:
        raise ValueError("no labelled lines to evaluate")
    groups = LabelGroups(groups_file)
    model = load_model(model_ref, aliases=groups.aliases)
    gold = df["label"].to_list()
    t0 = time.perf_counter()
    if match == "group":
        pred = predict_labels(model, df["text"].to_list(), groups, gold)
        known = {g for g in set(gold) if groups.knows(model.labels, g)}
    else:
        pred = predict_labels(model, df["text"].to_list())
        names = {m.default for m in model.labels}
        known = set(gold) & names
    elapsed = time.perf_counter() - t0
    s = score_predictions(gold, pred, known, top_confused)
    return EvalReport(model=str(model_ref), data=str(data) if not isinstance(data, pl.DataFrame) else "<frame>",
                      match=match, lines_per_s=round(len(gold) / max(elapsed, 1e-9), 1), **s)


def write_report(report: EvalReport, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) + "\n", "utf-8")
    return path


def format_report(report: EvalReport, top: int = 25) -> str:
    """Plain-text summary for the CLI: headline, worst labels (all when top = 0), confused pairs."""
    lines = [
        f"model {report.model}  data {report.data}  match {report.match}",
        f"lines {report.lines}  labels {report.labels} (unknown to the model: {len(report.unknown_labels)})  "
        f"accuracy {report.accuracy:.4f}  macro-F1 {report.macro_f1:.4f}  (all labels {report.macro_f1_all:.4f})"
        f"  {report.lines_per_s:,.0f} lines/s",
        "",
        f"{'label':<14}{'support':>8}{'pred':>8}{'P':>8}{'R':>8}{'F1':>8}",
    ]
    rows = report.worst(len(report.per_label) if top == 0 else top)
    if top and len(report.per_label) > top:
        lines[-1] += f"   (worst {top} of {len(report.per_label)}; --top 0 shows all)"
    for s in rows:
        lines.append(f"{s.label:<14}{s.support:>8}{s.predicted:>8}{s.precision:>8.3f}{s.recall:>8.3f}{s.f1:>8.3f}")
    if report.confused:
        lines += ["", "most confused (gold → predicted: lines)"]
        lines += [f"  {c['gold']} → {c['pred']}: {c['count']}" for c in report.confused]
    return "\n".join(lines)


__all__ = ["EvalReport", "LabelScore", "LangIdError", "evaluate_model", "format_report", "predict_labels",
           "read_labelled", "score_predictions", "write_report"]

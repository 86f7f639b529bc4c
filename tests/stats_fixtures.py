"""Write a complete `glot build` output (corpus, rejected, stats counters, stage reports) for tests.

Why: `glot stats/report/select/card` read only the output contract (docs/architecture.md), so their
tests build that layout directly from the bundled UDHR sample, with counters computed here in plain
Python (`len(text)`, `len(text.split())`), independently of the polars code under test.
Import as `from stats_fixtures import write_contract_out` (tests/ is on sys.path).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "corpus" / "data" / "sample" / "udhr_sample.parquet"
CORPUS_SCHEMA = {
    "text": pl.Utf8,
    "label": pl.Utf8,
    "source": pl.Utf8,
    "line": pl.Int64,
    "sentence": pl.Int32,
    "script": pl.Utf8,
}
REJ_SCHEMA = {
    **CORPUS_SCHEMA,
    "reason": pl.Utf8,
    "score": pl.Float64,
    "ref_source": pl.Utf8,
    "ref_line": pl.Int64,
    "detail": pl.Utf8,
}
LICENCES = ("CC-BY-4.0", "MIT", "CC0-1.0")


def _reason(label_idx: int, line: int) -> str | None:
    """Deterministic rejections: a few rules, some labels with none at all."""
    if label_idx % 5 == 4:
        return None
    if line % 7 == 0:
        return "quality:too_short"
    if line % 11 == 0:
        return "dedup:exact"
    if line % 13 == 0 and label_idx % 2:
        return "langid:mismatch"
    return None


def write_contract_out(
    out: Path, labels: list[str] | None = None, rows_per_part: int = 40, extras: bool = True
) -> dict[str, dict]:
    """Write OUT from the sample; return the expected per-label figures {label: {kept, rejected, ...}}.

    Each label gets two sources (`<label>.txt` and `extra/<label>.tsv`, alternating rows), kept rows
    split into parts of `rows_per_part`, rejected rows in OUT/rejected, and stats/labels|sources in
    both parquet and json. With `extras`, also lid_audit.json, quality.json and dedup.json.
    """
    out = Path(out)
    df = pl.read_parquet(SAMPLE).sort("label", "article", "unit")
    all_labels = sorted(df["label"].unique())
    labels = sorted(labels) if labels is not None else all_labels
    expected: dict[str, dict] = {}
    src_rows: dict[str, dict] = {}
    for idx, label in enumerate(all_labels):
        if label not in labels:
            continue
        texts = df.filter(pl.col("label") == label)["text"].to_list()
        kept: list[dict] = []
        rej: list[dict] = []
        for i, text in enumerate(texts):
            source = f"{label}.txt" if i % 2 == 0 else f"extra/{label}.tsv"
            row = {
                "text": text,
                "label": label,
                "source": source,
                "line": i // 2 + 1,
                "sentence": 0,
                "script": label.split("_")[1],
            }
            reason = _reason(idx, i + 1)
            s = src_rows.setdefault(
                source, {"label": label, "kept": 0, "rejected": 0, "by": Counter(), "lines": 0}
            )
            s["lines"] += 1
            if reason:
                rej.append(
                    {
                        **row,
                        "reason": reason,
                        "score": 0.5,
                        "ref_source": None,
                        "ref_line": None,
                        "detail": None,
                    }
                )
                s["rejected"] += 1
                s["by"][reason] += 1
            else:
                kept.append(row)
                s["kept"] += 1
        kept.sort(key=lambda r: (r["source"], r["line"]))
        for d, rows, schema in (("corpus", kept, CORPUS_SCHEMA), ("rejected", rej, REJ_SCHEMA)):
            if not rows:
                continue
            (out / d / label).mkdir(parents=True, exist_ok=True)
            for k, start in enumerate(range(0, len(rows), rows_per_part)):
                pl.DataFrame(rows[start : start + rows_per_part], schema=schema).write_parquet(
                    out / d / label / f"part-{k:05d}.parquet", compression="zstd"
                )
        by = Counter(r["reason"] for r in rej)
        expected[label] = {
            "label": label,
            "script": label.split("_")[1],
            "sources": 2,
            "lines": len(texts),
            "units": len(texts),
            "kept": len(kept),
            "rejected": len(rej),
            "rejected_by_reason": dict(sorted(by.items())),
            "chars": sum(len(r["text"]) for r in kept),
            "words": sum(len(r["text"].split()) for r in kept),
        }
    sources = []
    for n, (src, s) in enumerate(sorted(src_rows.items())):
        sources.append(
            {
                "source": src,
                "label": s["label"],
                "format": src.rsplit(".", 1)[1],
                "priority": 0,
                "licence": LICENCES[n % len(LICENCES)],
                "url": None,
                "lines": s["lines"],
                "units": s["lines"],
                "kept": s["kept"],
                "rejected": s["rejected"],
                "rejected_by_reason": dict(sorted(s["by"].items())),
                "damaged": False,
                "damage": None,
            }
        )
    write_counters(out, list(expected.values()), sources)
    if extras:
        write_extras(out, expected, sources)
    return expected


def write_counters(out: Path, labels: list[dict], sources: list[dict]) -> None:
    """stats/labels.* and sources.*: json with dict reasons, parquet with JSON-string reasons (the contract)."""
    st = Path(out) / "stats"
    st.mkdir(parents=True, exist_ok=True)
    for name, recs in (("labels", labels), ("sources", sources)):
        (st / f"{name}.json").write_text(json.dumps(recs, indent=1, ensure_ascii=False), encoding="utf-8")
        flat = [
            {**r, "rejected_by_reason": json.dumps(r["rejected_by_reason"], sort_keys=True)} for r in recs
        ]
        pl.DataFrame(flat, infer_schema_length=None).write_parquet(st / f"{name}.parquet")
    (st / "build.json").write_text(json.dumps({"stages": ["ingest", "quality", "langid", "dedup"]}))


def write_extras(out: Path, expected: dict[str, dict], sources: list[dict]) -> None:
    """Stage reports as the langid/quality/dedup helpers write them (one plausible shape each)."""
    st = Path(out) / "stats"
    audit = []  # the shape corpus/lid_audit.py writes (AUDIT_SCHEMA)
    for n, s in enumerate(sources):
        share = round((n * 37 % 100) / 250, 3)
        lines = s["kept"] + s["rejected"]
        audit.append({"source": s["source"], "label": s["label"], "verified": True, "lines": lines,
                      "elsewhere": round(share * lines), "share_elsewhere": share, "share_confident_elsewhere": share / 2,
                      "rejected_langid": s["rejected_by_reason"].get("langid:mismatch", 0),
                      "top_predicted": [{"label": s["label"], "share": round(1 - share, 3)},
                                        {"label": "und_Zyyy", "share": share}],
                      "flagged": share > 0.3, "note": None})
    (st / "lid_audit.json").write_text(json.dumps(audit))
    (st / "quality.json").write_text(json.dumps(
        {lab: {"min_chars": 3 + i % 4, "char_repetition_max": 0.2} for i, lab in enumerate(expected)}))
    dups: dict[str, dict] = defaultdict(dict)  # the shape corpus/dedup/stage.py writes
    for i, (lab, e) in enumerate(expected.items()):
        exact = e["rejected_by_reason"].get("dedup:exact", 0)
        clusters = [{"cluster": 0, "size": exact + 1 + i % 3, "exact": exact, "near": 0, "kept": 1,
                     "source": f"{lab}.txt", "line": 1, "example": f"example text of {lab}"}] if exact else []
        dups[lab] = {"exact": exact, "near": 0, "lines": e["kept"] + exact, "kept": e["kept"], "clusters": clusters}
    (st / "dedup.json").write_text(json.dumps(dups))

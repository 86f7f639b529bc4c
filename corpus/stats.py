"""Build counters: per-source and per-label tables assembled from task markers.

Counts come from the tasks that produced the rows (not from re-reading the output), and the accounting
invariant is checked here: for every source, units == kept + rejected. A violation is a bug in a stage
or in the runner and stops the build rather than producing a corpus with silently lost lines.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from .writers import write_frame_atomic, write_json_atomic


class AccountingError(RuntimeError):
    """Some line was neither kept nor rejected, or counted twice."""


def source_table(specs: list[dict[str, Any]], map_results: list[dict], reduce_results: dict[str, dict],
                 prior: dict[str, dict] | None = None) -> list[dict]:
    """One row per source: what its shards kept and rejected, minus what label stages removed later.

    `prior` (for `glot run` on a built corpus) gives each source's lines/units as first read, since the
    rows of such a run are no longer physical lines."""
    merged: dict[str, dict] = {}
    for res in map_results:
        for rel, c in res["per_source"].items():
            row = merged.setdefault(rel, {"lines": 0, "units": 0, "kept": 0, "reasons": Counter()})
            row["lines"] += c["lines"]
            row["units"] += c["units"]
            row["kept"] += c["kept"]
            row["reasons"].update(c["rejected_by_reason"])
    for res in reduce_results.values():
        for rel, counts in res.get("reduce_rejected", {}).items():
            row = merged.setdefault(rel, {"lines": 0, "units": 0, "kept": 0, "reasons": Counter()})
            row["kept"] -= sum(counts.values())
            row["reasons"].update(counts)
    damage: dict[str, str | None] = {}
    for res in map_results:  # a source read in chunks has several shards; any damage counts
        damage[res["shard"]] = damage.get(res["shard"]) or res.get("damage")
    rows = []
    for spec in specs:
        m = merged.get(spec["rel"], {"lines": 0, "units": 0, "kept": 0, "reasons": Counter()})
        first = (prior or {}).get(spec["rel"], {})
        dmg = damage.get(spec["rel"]) or first.get("damage")
        rows.append({
            "source": spec["rel"], "label": spec["label"], "declared": spec["declared"], "format": spec["format"],
            "compression": spec["compression"], "priority": spec["priority"], "licence": spec["licence"],
            "url": spec["url"], "name": spec["name"],
            "lines": first.get("lines", m["lines"]), "units": first.get("units", m["units"]), "kept": m["kept"],
            "rejected": sum(m["reasons"].values()), "rejected_by_reason": dict(sorted(m["reasons"].items())),
            "damaged": dmg is not None, "damage": dmg,
        })
    return rows


def check_accounting(sources: list[dict]) -> None:
    bad = [s for s in sources if s["units"] != s["kept"] + s["rejected"] or s["kept"] < 0]
    if bad:
        s = bad[0]
        raise AccountingError(f"{s['source']}: {s['units']} units but {s['kept']} kept + {s['rejected']} rejected "
                              f"({len(bad)} sources affected)")


def label_table(sources: list[dict], reduce_results: dict[str, dict]) -> list[dict]:
    by_label: dict[str, dict] = {}
    for s in sources:
        row = by_label.setdefault(s["label"], {
            "label": s["label"], "script": s["label"].split("_")[1], "sources": 0, "lines": 0, "units": 0,
            "kept": 0, "rejected": 0, "rejected_by_reason": Counter(), "chars": 0, "words": 0,
        })
        row["sources"] += 1
        for key in ("lines", "units", "kept", "rejected"):
            row[key] += s[key]
        row["rejected_by_reason"].update(s["rejected_by_reason"])
    for label, row in by_label.items():
        res = reduce_results.get(label, {})
        if res.get("kept", row["kept"]) != row["kept"]:
            raise AccountingError(f"{label}: {res['kept']} rows written but counters say {row['kept']} kept")
        row["chars"] = res.get("chars", 0)
        row["words"] = res.get("words", 0)
        row["rejected_by_reason"] = dict(sorted(row["rejected_by_reason"].items()))
    return [by_label[k] for k in sorted(by_label)]


def _to_parquet(rows: list[dict], path: Path) -> None:
    flat = [{k: (json.dumps(v, sort_keys=True) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
    write_frame_atomic(pl.DataFrame(flat, infer_schema_length=None), path)


def write_tables(stats_dir: Path, sources: list[dict], labels: list[dict]) -> None:
    write_json_atomic(stats_dir / "sources.json", sources)
    write_json_atomic(stats_dir / "labels.json", labels)
    if sources:
        _to_parquet(sources, stats_dir / "sources.parquet")
    if labels:
        _to_parquet(labels, stats_dir / "labels.parquet")


def write_stage_reports(stats_dir: Path, reduce_results: dict[str, dict]) -> list[str]:
    """`stats/<stage>.json` = {label: report} for every stage that reported something."""
    per_stage: dict[str, dict[str, Any]] = {}
    for label in sorted(reduce_results):
        for stage, report in reduce_results[label].get("reports", {}).items():
            if report:
                per_stage.setdefault(stage, {})[label] = report
    for stage, data in per_stage.items():
        write_json_atomic(stats_dir / f"{stage}.json", data)
    return sorted(per_stage)

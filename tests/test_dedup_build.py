"""Dedup through `glot build`: a label spread over many shards, priorities, references, accounting, workers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest

from glotforge.corpus.dedup.normalize import normalize
from glotforge.corpus.dedup.stage import DedupConfig
from glotforge.pipelines.build import build
from glotforge.pipelines.recipe import load_recipe
from glotforge.pipelines.runner import LocalExecutor

from build_helpers import output_bytes, read_outputs
from corpus_fixtures import SAMPLE

SHARDS = 14


def sample_lines(label: str) -> list[str]:
    df = pl.read_parquet(SAMPLE).filter(pl.col("label") == label)
    return df.unique("text", keep="first", maintain_order=True)["text"].to_list()


def write_sources(root: Path) -> Path:
    """German spread over 14 shards with exact and near copies across shards, a priority source, and Thai."""
    rng = random.Random(11)
    deu, tha = sample_lines("deu_Latn"), sample_lines("tha_Thai")
    data = root / "data"
    (data / "de").mkdir(parents=True)
    (data / "th").mkdir(parents=True)
    long = [t for t in deu if len(t) > 60]
    for i in range(SHARDS):
        own = deu[i::SHARDS]
        copies = [rng.choice(deu) for _ in range(3)] + [rng.choice(long) + " 7", rng.choice(long).upper()]
        (data / "de" / f"shard{i:02d}.txt").write_text("\n".join(own + copies) + "\n", "utf-8")
    # a line that shard00 holds first, physically, must be kept from the priority source
    (data / "de" / "zz_priority.txt").write_text(deu[0] + "\n", "utf-8")
    for i in range(3):
        lines = tha[i::3] + [t[:len(t) // 2] + t[len(t) // 2 + 1:] for t in tha[i::3] if len(t) > 60][:2]
        (data / "th" / f"part{i}.txt").write_text("\n".join(lines) + "\n", "utf-8")
    manifest = root / "sources.toml"
    manifest.write_text('''
[[source]]
path = "data/de/shard*.txt"
language = "de"

[[source]]
path = "data/de/zz_priority.txt"
language = "de"
priority = 5

[[source]]
path = "data/th/*.txt"
language = "th"
''', "utf-8")
    return manifest


@pytest.fixture(scope="module")
def dedup_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("dedup")
    manifest = write_sources(root)
    out = root / "out"
    build(manifest, out, load_recipe(), LocalExecutor(2, progress=False), stages=["dedup"])
    return root, out


def canonical_key(priority: int, source: str, line: int) -> tuple:
    return (-priority, source, line)


def test_every_removed_line_points_at_an_earlier_kept_twin(dedup_build):
    _, out = dedup_build
    kept, rej = read_outputs(out)
    sources = {s["source"]: s for s in json.loads((out / "stats" / "sources.json").read_text())}
    dedup = rej.filter(pl.col("reason").str.starts_with("dedup:"))
    assert dedup.height > 2 * SHARDS
    kept_at = {(lab, s, ln): t for lab, s, ln, t in kept.select("label", "source", "line", "text").iter_rows()}
    for r in dedup.iter_rows(named=True):
        assert (r["label"], r["ref_source"], r["ref_line"]) in kept_at
        mine = canonical_key(sources[r["source"]]["priority"], r["source"], r["line"])
        twin = canonical_key(sources[r["ref_source"]]["priority"], r["ref_source"], r["ref_line"])
        assert twin < mine
        # a near copy can estimate 1.0 (all 128 MinHash values agree), never below the threshold
        assert (r["score"] == 1.0) if r["reason"] == "dedup:exact" else (0.6 <= r["score"] <= 1.0)
        assert r["detail"].startswith("cluster ")


def test_kept_lines_have_distinct_keys_and_copies_are_gone(dedup_build):
    _, out = dedup_build
    kept, rej = read_outputs(out)
    for label in ("deu_Latn", "tha_Thai"):
        texts = kept.filter(pl.col("label") == label)["text"]
        keys = normalize(texts, DedupConfig().exact_key())
        assert keys.n_unique() == keys.len()
    # of every planted near pair (a line and the line + " 7", in any shard order) only one is kept
    deu_kept = set(kept.filter(pl.col("label") == "deu_Latn")["text"].to_list())
    assert not [t for t in deu_kept if t.endswith(" 7") and t[:-2] in deu_kept]
    assert rej.filter((pl.col("label") == "deu_Latn") & (pl.col("reason") == "dedup:near")).height >= SHARDS - 2
    tha = rej.filter(pl.col("label") == "tha_Thai")
    assert tha.filter(pl.col("reason") == "dedup:near").height >= 4  # one-character deletions, char shingles


def test_priority_beats_physical_order_across_shards(dedup_build):
    root, out = dedup_build
    kept, rej = read_outputs(out)
    first = (root / "data" / "de" / "zz_priority.txt").read_text("utf-8").strip()
    assert kept.filter(pl.col("text") == first)["source"].to_list() == ["data/de/zz_priority.txt"]
    gone = rej.filter((pl.col("text") == first) & (pl.col("source") == "data/de/shard00.txt"))
    assert gone.select("reason", "ref_source", "ref_line").rows() == [("dedup:exact", "data/de/zz_priority.txt", 1)]


def test_accounting_and_dedup_report(dedup_build):
    _, out = dedup_build
    sources = json.loads((out / "stats" / "sources.json").read_text())
    assert len(sources) == SHARDS + 1 + 3
    for s in sources:
        assert s["units"] == s["kept"] + s["rejected"]
    report = json.loads((out / "stats" / "dedup.json").read_text())
    _, rej = read_outputs(out)
    for label in ("deu_Latn", "tha_Thai"):
        counts = dict(rej.filter(pl.col("label") == label).group_by("reason").len().iter_rows())
        assert report[label]["exact"] == counts.get("dedup:exact", 0)
        assert report[label]["near"] == counts.get("dedup:near", 0)
        top = report[label]["clusters"][0]
        assert top["size"] >= 2 and top["example"] and top["source"].startswith("data/")
    assert report["tha_Thai"]["shingles"] == "char5" and report["deu_Latn"]["shingles"] == "word2"


def test_default_build_dedups_identically_with_one_and_two_workers(tmp_path):
    manifest = write_sources(tmp_path)
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        summary = build(manifest, out, load_recipe(), LocalExecutor(workers, progress=False))
        assert "dedup" in summary.stages
        outs.append(output_bytes(out))
    assert outs[0] == outs[1]
    report = json.loads((tmp_path / "out1" / "stats" / "dedup.json").read_text())
    assert report["deu_Latn"]["exact"] > SHARDS

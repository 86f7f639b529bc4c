"""`glot select` (Glot500-c-style subset, sampling.json, links) and `glot card` (hub YAML that loads offline)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from glotforge.corpus.corpus_stats import compute_stats
from glotforge.corpus.headtail import head_labels
from glotforge.pipelines.card import size_category, write_card
from glotforge.pipelines.cli import main
from glotforge.pipelines.select import select_subset

from stats_fixtures import write_contract_out

REPO = Path(__file__).resolve().parents[1]
MIN = 85  # the sample has ~60-95 kept rows per label: a threshold that splits it


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("sel") / "OUT"
    return out, write_contract_out(out)


def test_select_tiers_probabilities_and_links(built, tmp_path):
    out, expected = built
    sub = tmp_path / "SUB"
    res = CliRunner().invoke(main, ["select", str(out), "--min-sentences", str(MIN), "-o", str(sub)])
    assert res.exit_code == 0, res.output
    doc = json.loads((sub / "sampling.json").read_text())
    want = {k for k, e in expected.items() if e["kept"] >= MIN or k in head_labels()}
    got = {r["label"] for r in doc["labels"]}
    assert got == want and doc["selected"] == len(want) and doc["excluded"] == len(expected) - len(want)
    assert doc["tiers"]["head"] == len(want & head_labels()) > 0 and doc["tiers"]["tail"] > 0
    # p_i ∝ n_i^0.3, normalised
    p = {r["label"]: r["p"] for r in doc["labels"]}
    assert sum(p.values()) == pytest.approx(1.0)
    a, b = sorted(got)[:2]
    assert p[a] / p[b] == pytest.approx((expected[a]["kept"] / expected[b]["kept"]) ** 0.3)
    # head rule: every head label weighs like the smallest selected tail label
    tails = [r for r in doc["labels"] if r["tier"] == "tail"]
    smallest = min(tails, key=lambda r: r["sentences"])
    for r in doc["labels"]:
        if r["tier"] == "head":
            assert r["p_head_rule"] == pytest.approx(smallest["p_head_rule"])
    # materialised by hard links (same inode), same contract layout, counters that check
    for label in got:
        for part in (out / "corpus" / label).glob("part-*.parquet"):
            assert os.stat(sub / "corpus" / label / part.name).st_ino == os.stat(part).st_ino
    assert doc["materialised"] == {"hardlink": sum(len(list((out / "corpus" / lab).glob("*.parquet"))) for lab in got)}
    st = compute_stats(sub)
    assert st.checked and set(st.labels["label"]) == got
    assert (sub / "README.md").exists()


def test_select_strict_copy_and_errors(built, tmp_path):
    out, expected = built
    sub = tmp_path / "SUB"
    doc = select_subset(out, sub, min_sentences=MIN, head_always=False, mode="copy", card=False)
    assert {r["label"] for r in doc["labels"]} == {k for k, e in expected.items() if e["kept"] >= MIN}
    assert all(r["passes_threshold"] for r in doc["labels"]) and doc["materialised"].keys() == {"copy"}
    part = next((sub / "corpus").glob("*/part-00000.parquet"))
    assert os.stat(part).st_ino != os.stat(out / "corpus" / part.parent.name / part.name).st_ino
    assert not (sub / "README.md").exists()
    with pytest.raises(FileExistsError):
        select_subset(out, sub, min_sentences=MIN)
    select_subset(out, sub, min_sentences=MIN, overwrite=True)
    res = CliRunner().invoke(main, ["select", str(out), "-o", str(tmp_path / "S2"), "--min-sentences", "30000",
                                    "--no-head-always"])
    assert res.exit_code == 1 and "no label has ≥ 30,000" in res.output


def test_card_yaml_and_offline_loading(built, tmp_path, monkeypatch):
    out, expected = built
    sub = tmp_path / "SUB"
    select_subset(out, sub, min_sentences=MIN)
    text = (sub / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    labels = json.loads((sub / "sampling.json").read_text())["labels"]
    names = [c["config_name"] for c in meta["configs"]]
    assert names == ["all"] + sorted(r["label"] for r in labels)
    assert meta["configs"][0]["default"] is True
    assert set(meta["license"]) <= {"cc-by-4.0", "mit", "cc0-1.0"} and meta["license"]
    assert "eng" in meta["language"] and meta["size_categories"] == [size_category(sum(r["sentences"] for r in labels))]
    assert "| eng_Latn | head | Latn |" in text and "## Licences of the sources" in text
    for c in meta["configs"]:
        assert list(sub.glob(c["data_files"][0]["path"])), c

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    cache = str(tmp_path / "hf-cache")
    n = expected["eng_Latn"]["kept"]
    ds = datasets.load_dataset(str(sub), "eng_Latn", split="train", cache_dir=cache)  # the card's config
    assert ds.num_rows == n and set(ds["label"]) == {"eng_Latn"}
    ds = datasets.load_dataset("parquet", data_files={"train": str(sub / "corpus/eng_Latn/*.parquet")},
                               split="train", cache_dir=cache)
    assert ds.num_rows == n and {"text", "label", "source", "line", "sentence"} <= set(ds.column_names)
    total = sum(r["sentences"] for r in labels)
    assert datasets.load_dataset(str(sub), "all", split="train", cache_dir=cache).num_rows == total

    glob = str(sub / "corpus" / "*" / "*.parquet")
    assert duckdb.sql(f"SELECT count(*) FROM '{glob}'").fetchall()[0][0] == total
    by = duckdb.sql(f"SELECT label, count(*) AS n FROM '{glob}' WHERE label = 'eng_Latn' GROUP BY label").fetchall()
    assert by == [("eng_Latn", n)]
    assert pl.scan_parquet(glob).filter(pl.col("label") == "eng_Latn").select(pl.len()).collect().item() == n


def test_card_on_full_output_and_cli(built, tmp_path):
    out, expected = built
    res = CliRunner().invoke(main, ["card", str(out), "--title", "Demo corpus"])
    assert res.exit_code == 0, res.output
    text = (out / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["pretty_name"] == "Demo corpus" and len(meta["configs"]) == len(expected) + 1
    assert "## Sampling" not in text
    meta = yaml.safe_load(write_card(out).read_text().split("---\n")[1])
    assert meta["pretty_name"] == "Glotforge corpus: OUT"


@pytest.mark.slow
def test_demo_end_to_end_through_glot_build(tmp_path, monkeypatch):
    """A new user's path: build the bundled demo, look at stats and the report, cut a subset, load it."""
    sources = REPO / "corpus" / "data" / "sample" / "sources"
    out, sub = tmp_path / "OUT", tmp_path / "SUB"
    run = CliRunner().invoke
    res = run(main, ["build", str(sources), "-o", str(out), "-j", "2"])
    assert res.exit_code == 0, res.output
    res = run(main, ["stats", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["checked_against_counters"] and doc["totals"]["labels"] == 178
    kept = {r["label"]: r["kept"] for r in doc["rows"]}
    assert sum(kept.values()) == doc["totals"]["kept"] and doc["totals"]["kept"] + doc["totals"]["rejected"] > 15_000
    res = run(main, ["report", str(out)])
    html = (out / "report.html").read_text()
    assert res.exit_code == 0 and 'class="chart chart-sizes"' in html and html.count('<tr class="') >= 178
    res = run(main, ["select", str(out), "--min-sentences", "90", "-o", str(sub)])
    assert res.exit_code == 0, res.output
    sampling = json.loads((sub / "sampling.json").read_text())
    assert {r["label"] for r in sampling["labels"]} == {k for k, n in kept.items() if n >= 90 or k in head_labels()}
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    ds = datasets.load_dataset(str(sub), "eng_Latn", split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == kept["eng_Latn"] and ds[0]["label"] == "eng_Latn"

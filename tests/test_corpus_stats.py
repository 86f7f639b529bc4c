"""Statistics computed from written Parquet files, checked against the build counters, and `glot stats`."""

from __future__ import annotations

import io
import json
import shutil

import polars as pl
import pytest
from click.testing import CliRunner

from glotforge.corpus.corpus_stats import StatsMismatchError, compute_stats, word_count_expr
from glotforge.corpus.headtail import head_labels, head_table, tier
from glotforge.pipelines.cli import main

from stats_fixtures import write_contract_out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("stats") / "OUT"
    expected = write_contract_out(out)
    return out, expected


def test_label_figures_match_independent_count(built):
    out, expected = built
    st = compute_stats(out)
    assert st.checked
    assert st.labels.height == len(expected) == 178
    for r in st.labels.iter_rows(named=True):
        e = expected[r["label"]]
        assert (r["kept"], r["rejected"], r["chars"], r["words"], r["sources"]) == (
            e["kept"], e["rejected"], e["chars"], e["words"], 2), r["label"]
        assert json.loads(r["rejected_by_reason"]) == e["rejected_by_reason"]
        assert r["units"] == e["kept"] + e["rejected"]
        assert r["share_kept"] == pytest.approx(e["kept"] / (e["kept"] + e["rejected"]))
        assert r["script"] == r["label"].split("_")[1]
    assert dict(zip(st.labels["label"], st.labels["tier"], strict=True))["eng_Latn"] == "head"
    assert dict(zip(st.labels["label"], st.labels["tier"], strict=True))["aar_Latn"] == "tail"


def test_reasons_by_stage_and_sources(built):
    out, expected = built
    st = compute_stats(out)
    by = st.reasons_by_stage()
    assert set(by["stage"]) == {"quality", "dedup", "langid"}
    assert int(by["count"].sum()) == sum(e["rejected"] for e in expected.values())
    assert st.sources.height == 2 * len(expected)
    assert {"lid_elsewhere", "lid_top", "lid_flagged", "licence", "format"} <= set(st.sources.columns)
    row = st.sources.filter(pl.col("source") == "eng_Latn.txt").row(0, named=True)
    assert row["label"] == "eng_Latn" and row["lid_top"].startswith("eng_Latn")
    assert set(st.extras) >= {"lid_audit", "quality", "dedup", "build"}


def test_words_are_whitespace_runs():
    texts = ["a  b\tc", " lead trail ", "", "x\u00a0y", "単語"]
    got = pl.DataFrame({"text": texts}).select(word_count_expr())["text"].to_list()
    assert got == [len(t.split()) for t in texts]


def test_filters_push_down_to_label_folders(built):
    out, expected = built
    st = compute_stats(out, labels=["eng_*", "cmn_*"])
    assert st.checked and sorted(st.labels["label"]) == ["cmn_Hans", "cmn_Hant", "eng_Latn"]
    st = compute_stats(out, scripts=["cyrl"])
    assert st.labels.height == sum(1 for k in expected if k.endswith("_Cyrl"))


def test_missing_part_is_an_error(built, tmp_path):
    out = tmp_path / "OUT"
    shutil.copytree(built[0], out)
    (out / "corpus" / "eng_Latn" / "part-00001.parquet").unlink()
    with pytest.raises(StatsMismatchError, match="label eng_Latn: kept files="):
        compute_stats(out)
    shutil.rmtree(out / "corpus" / "deu_Latn")
    with pytest.raises(StatsMismatchError) as err:
        compute_stats(out)
    assert any("deu_Latn" in p for p in err.value.problems)
    assert compute_stats(out, check=False).labels.height == 178  # shown, not checked, when asked


def test_counter_mismatch_in_json_only_output(built, tmp_path):
    out = tmp_path / "OUT"
    shutil.copytree(built[0], out)
    for name in ("labels", "sources"):
        (out / "stats" / f"{name}.parquet").unlink()
    assert compute_stats(out).checked  # json counters with dict reasons are read as well
    labels = json.loads((out / "stats" / "labels.json").read_text())
    labels[0]["rejected_by_reason"] = {"quality:too_short": 999}
    (out / "stats" / "labels.json").write_text(json.dumps(labels))
    with pytest.raises(StatsMismatchError, match="rejected_by_reason"):
        compute_stats(out)


def test_no_counters(tmp_path):
    out = tmp_path / "OUT"
    write_contract_out(out, labels=["eng_Latn", "fra_Latn"], extras=False)
    shutil.rmtree(out / "stats")
    with pytest.raises(FileNotFoundError, match="no-check"):
        compute_stats(out)
    st = compute_stats(out, check=None)
    assert not st.checked and st.labels.height == 2 and st.extras == {}
    assert "lid_elsewhere" not in st.sources.columns


def test_head_table_is_glot500_data():
    rows = head_table()
    assert sum(1 for r in rows if "csv" in r["origin"]) == 100  # XLM-R=True rows of languages_stats.csv
    assert {"eng_Latn", "jpn_Jpan", "cmn_Hans", "zho_Hani", "swh_Latn"} <= head_labels()
    assert tier("eng_Latn") == "head" and tier("aar_Latn") == "tail"


def test_cli_formats_sort_and_filters(built):
    out, expected = built
    run = CliRunner().invoke
    res = run(main, ["stats", str(out), "--format", "json", "--script", "Latn", "--min-sentences", "80",
                     "--sort", "+label"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    want = sorted(k for k, e in expected.items() if k.endswith("_Latn") and e["kept"] >= 80)
    assert [r["label"] for r in doc["rows"]] == want and doc["checked_against_counters"]
    assert doc["reports"]["lid_audit"].startswith("356 sources audited")

    res = run(main, ["stats", str(out), "--format", "csv", "--sort", "chars", "--limit", "5"])
    df = pl.read_csv(io.StringIO(res.output))
    top = sorted(expected.values(), key=lambda e: -e["chars"])[:5]
    assert df["label"].to_list() == [e["label"] for e in top]
    assert df.columns[:5] == ["label", "script", "tier", "sources", "kept"]

    res = run(main, ["stats", str(out), "--label", "eng_Latn"])
    assert res.exit_code == 0 and "eng_Latn" in res.output and "checked against OUT/stats counters" in res.output
    assert "lid_audit: 356 sources audited" in res.output

    res = run(main, ["stats", str(out), "--by", "source", "--sort", "lid_elsewhere", "--format", "json", "--limit", "3"])
    rows = json.loads(res.output)["rows"]
    assert rows[0]["lid_elsewhere"] >= rows[1]["lid_elsewhere"] >= rows[2]["lid_elsewhere"]
    assert "lid_top" in rows[0] and "lid_flagged" in rows[0]

    res = run(main, ["stats", str(out), "--by", "reason", "--format", "csv"])
    assert set(pl.read_csv(io.StringIO(res.output))["reason"]) == {"quality:too_short", "dedup:exact", "langid:mismatch"}

    res = run(main, ["stats", str(out), "--sort", "nope"])
    assert res.exit_code != 0 and "cannot sort by 'nope'" in res.output


def test_cli_mismatch_is_one_line_error(built, tmp_path):
    out = tmp_path / "OUT"
    shutil.copytree(built[0], out)
    (out / "rejected" / "eng_Latn" / "part-00000.parquet").unlink()
    res = CliRunner().invoke(main, ["stats", str(out)])
    assert res.exit_code == 1
    assert "Error:" in res.output and "mismatch" in res.output and "Traceback" not in res.output


def test_optional_reports_in_other_shapes(tmp_path):
    """Stage reports may be parquet or json, records or keyed by source; all are read, none is required."""
    from glotforge.corpus.stats_extras import kind_of, lid_audit_frame, summarise

    out = tmp_path / "OUT"
    write_contract_out(out, labels=["eng_Latn", "fra_Latn"], extras=False)
    pl.DataFrame({
        "source": ["eng_Latn.txt", "fra_Latn.txt"], "share_elsewhere": [0.5, 0.01], "flagged": [True, False],
        "top_predicted": [[{"label": "sco_Latn", "share": 0.5}], [{"label": "fra_Latn", "share": 0.99}]],
    }).write_parquet(out / "stats" / "lid_audit.parquet")
    (out / "stats" / "vocab_fertility.json").write_text('{"eng_Latn": {"before": 1.5, "after": 1.2}}')
    (out / "stats" / "quality.json").write_text("{not json")
    st = compute_stats(out)
    row = st.sources.filter(pl.col("source") == "eng_Latn.txt").row(0, named=True)
    assert (row["lid_elsewhere"], row["lid_top"], row["lid_flagged"]) == (0.5, "sco_Latn 0.50", True)
    assert st.sources.filter(pl.col("source") == "extra/eng_Latn.tsv")["lid_elsewhere"].to_list() == [None]
    assert kind_of("vocab_fertility") == "fertility" and "fertility" in st.extras
    assert summarise("quality", st.extras["quality"]).startswith("could not read quality.json")
    keyed = {"a.txt": {"elsewhere_share": 0.2, "top": [["x_Latn", 0.2]]}, "b.txt": {"flagged": True}}
    df = lid_audit_frame(keyed)
    assert df.to_dicts() == [
        {"source": "a.txt", "lid_elsewhere": 0.2, "lid_top": "x_Latn 0.20", "lid_flagged": None},
        {"source": "b.txt", "lid_elsewhere": None, "lid_top": "", "lid_flagged": True},
    ]
    assert lid_audit_frame([]) is None and lid_audit_frame("junk") is None


def test_workers_compute_the_same_figures(built):
    """Label groups scanned by worker processes (what `--engine ray` does on a cluster) = one scan."""
    from glotforge.pipelines.runner import LocalExecutor

    out, _ = built
    one = compute_stats(out)
    spread = compute_stats(out, executor=LocalExecutor(2, progress=False))
    assert spread.checked
    assert spread.labels.equals(one.labels) and spread.sources.equals(one.sources)
    assert spread.reasons.sort(spread.reasons.columns).equals(one.reasons.sort(one.reasons.columns))


def test_cli_worker_failure_is_one_line_error(built, tmp_path):
    out = tmp_path / "OUT"
    shutil.copytree(built[0], out)
    (out / "corpus" / "eng_Latn" / "part-00000.parquet").write_bytes(b"PAR1 not parquet")
    res = CliRunner().invoke(main, ["stats", str(out), "-j", "2"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "stats task(s) failed" in res.output and "eng_Latn" in res.output

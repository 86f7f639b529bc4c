"""Tests of `glot eval` (train/evaluate.py, pipelines/commands/eval_cmd.py) with tiny random models.

Properties that hold for any model, so the numbers are checked, not just their presence: a text and its
copy retrieve each other perfectly; an untrained model's pseudo-perplexity is near its vocabulary size;
held-out lines are the ones training skips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
import torch
from click.testing import CliRunner

from glotforge.pipelines.cli import main
from glotforge.train.evaluate import (
    default_layer,
    embed,
    evaluate_models,
    parallel_articles,
    pseudo_log_likelihood,
    retrieval,
)
from glotforge.train.modeling import load_tokenizer, scratch_config
from glotforge.train.vocab import VocabTrainConfig, train_vocab

from corpus_fixtures import sample_frame, write_sample_corpus

torch.set_num_threads(1)
LABELS = ["arb_Arab", "deu_Latn", "eng_Latn", "hin_Deva", "rus_Cyrl", "zho_Hani"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    """A 6-label corpus, a tokenizer trained on it and two tiny random models (different seeds)."""
    from transformers import XLMRobertaForMaskedLM

    d = tmp_path_factory.mktemp("eval")
    labels = [lab for lab in LABELS if lab in set(sample_frame()["label"])]
    write_sample_corpus(d / "build", labels)
    cfg = VocabTrainConfig(vocab_size=1500, character_coverage=0.995, input_sentences=3000)
    train_vocab(d / "build", d / "tok", cfg)
    tok = load_tokenizer(d / "tok")
    for seed in (0, 1):
        torch.manual_seed(seed)
        m = XLMRobertaForMaskedLM(
            scratch_config(tok, 64, hidden_size=32, num_hidden_layers=2, intermediate_size=64)
        )
        m.save_pretrained(d / f"m{seed}")
        tok.save_pretrained(d / f"m{seed}")
    par = sample_frame(labels)
    par.write_parquet(d / "parallel.parquet")
    return {
        "root": d,
        "build": d / "build",
        "m0": d / "m0",
        "m1": d / "m1",
        "parallel": d / "parallel.parquet",
    }


def test_default_layer_matches_glot500_depth():
    assert default_layer(12) == 8
    assert default_layer(24) == 16
    assert default_layer(2) == 1
    assert default_layer(1) == 1


def test_parallel_articles_align_by_article():
    arts = parallel_articles()
    assert len(arts) == 178
    assert set(arts["eng_Latn"]) == set(range(31))
    assert arts["eng_Latn"][1].startswith("Article 1")


def test_copy_retrieves_itself_perfectly(setup):
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(setup["m0"]).eval()
    tok = load_tokenizer(setup["m0"])
    arts = parallel_articles(setup["parallel"])
    arts["cpy_Latn"] = dict(arts["eng_Latn"])  # a perfect "translation"
    res = retrieval(model, tok, arts, "eng_Latn", layer=1, max_len=64)
    assert res["cpy_Latn"] == {"top1": 1.0, "top10": 1.0, "n": 31, "candidates": 31}
    assert set(res) == set(arts) - {"eng_Latn"}
    for r in res.values():
        assert 0.0 <= r["top1"] <= r["top10"] <= 1.0
    e = embed(model, tok, ["a b c", "a b c", "x"], layer=2, max_len=64)
    assert e.shape == (3, 32)
    assert abs(float(e[0] @ e[1]) - 1) < 1e-5  # normalised, deterministic


def test_untrained_pseudo_perplexity_is_near_vocab_size(setup):
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(setup["m0"]).eval()
    tok = load_tokenizer(setup["m0"])
    r = pseudo_log_likelihood(
        model, tok, ["Everyone has the right to life.", "All human beings are born free."]
    )
    assert r["lines"] == 2 and r["tokens"] > 10 and 0 <= r["unk_share"] < 0.2
    assert len(tok) / 3 < r["pppl"] < len(tok) * 3
    assert r["bpc"] == pytest.approx(math.log2(r["pppl"]) * r["tokens"] / 61, rel=0.2)  # 61 chars


def test_evaluate_two_models_writes_json_and_table(setup, tmp_path):
    res = evaluate_models({"a": str(setup["m0"]), "b": str(setup["m1"])}, setup["build"], tmp_path,
                          parallel=setup["parallel"], max_lines=2, max_len=512, echo=lambda s: None)  # fmt: skip
    assert res["models"]["a"]["max_len"] == 64  # capped at the model's positions
    data = json.loads((tmp_path / "eval.json").read_text())
    assert data == json.loads(json.dumps(res))
    labels = sorted(p.name for p in (setup["build"] / "corpus").iterdir())
    assert sorted(data["pppl"]) == labels
    assert all(set(v) == {"a", "b"} and v["a"]["lines"] >= 1 for v in data["pppl"].values())
    assert set(data["retrieval"]) == set(labels) - {"eng_Latn"}
    assert data["models"]["a"]["layer"] == 1
    assert data["summary_by_model"]["a"]["pppl_labels"] == len(labels)
    assert [r["label"] for r in data["rows"]] == labels
    assert data["rows"][0]["b"]["pppl"] == data["pppl"][labels[0]]["b"]["pppl"]
    assert set(data["summary"]) >= {"a top10_mean", "b top10_mean", "a pppl_median"}
    assert data["pppl"]["deu_Latn"]["a"]["pppl"] != data["pppl"]["deu_Latn"]["b"]["pppl"]
    md = (tmp_path / "eval.md").read_text()
    assert "| a |" in md and "| b |" in md and "| deu_Latn |" in md


def test_eval_cli(setup, tmp_path):
    out = tmp_path / "ev"
    res = CliRunner().invoke(main, ["eval", "--model", f"base={setup['m0']}", "--model", str(setup["m1"]),
                                    "--corpus", str(setup["build"]), "--parallel", str(setup["parallel"]),
                                    "-o", str(out), "--max-lines", "1", "--max-len", "32", "--layer", "2"])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads((out / "eval.json").read_text())
    assert list(data["models"]) == ["base", "m1"]
    assert data["models"]["m1"]["layer"] == 2
    assert "| m1 |" in res.output  # every model's summary row is printed
    assert data["models"]["m1"]["max_len"] == 32
    bad = CliRunner().invoke(main, ["eval", "--model", str(setup["m0"]), "-o", str(tmp_path / "x"),
                                    "--parallel", str(setup["parallel"]), "--pivot", "xxx_Latn"])  # fmt: skip
    assert bad.exit_code != 0 and "pivot" in bad.output
    assert not pl.read_parquet(setup["parallel"]).is_empty()

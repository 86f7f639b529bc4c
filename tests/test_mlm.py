"""Tests of the MLM data stream, model setup, training/resume and the CLI end to end (train/data.py,
train/modeling.py, train/mlm.py, train/checkpoint.py, pipelines/commands/train_cmd.py).

Tiny real models on the bundled sample: 2 layers, hidden 32-64, sequences of 32-64 tokens, one torch
thread (the machine is shared; timings are never asserted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from click.testing import CliRunner

from glotforge.pipelines.cli import main
from glotforge.train.data import HeldOut, MLMBatches, PackedMLMStream, StreamSpec, heldout_texts
from glotforge.train.mlm import make_config, read_log, train
from glotforge.train.modeling import MaskedOnlyLoss, extend_vocabulary, load_tokenizer, subword_sources
from glotforge.train.sampling import sampling_probabilities
from glotforge.train.vocab import VocabTrainConfig, train_vocab
from glotforge.train.vocab_merge import extend_tokenizer

from corpus_fixtures import write_corpus, write_sample_corpus

torch.set_num_threads(1)
LATIN = ["deu_Latn", "eng_Latn", "fra_Latn", "ita_Latn", "nld_Latn", "pol_Latn", "por_Latn", "ron_Latn"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_sample_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def toks(corpus, tmp_path_factory) -> dict[str, Path]:
    """base: SentencePiece on 8 Latin labels; new: on every label; extended: base + new pieces."""
    d = tmp_path_factory.mktemp("tok")
    train_vocab(corpus, d / "base", VocabTrainConfig(vocab_size=800, labels=LATIN, input_sentences=4000))
    cfg = VocabTrainConfig(vocab_size=3000, character_coverage=0.995, input_sentences=20000)
    train_vocab(corpus, d / "new", cfg)
    extend_tokenizer(str(d / "base"), d / "new", d / "extended")
    return {k: d / k for k in ("base", "new", "extended")}


def _spec(corpus, tok_dir, **kw) -> StreamSpec:
    kw = {"max_len": 32, "batch_size": 8, "seed": 3, **kw}
    return StreamSpec(str(corpus), load_tokenizer(tok_dir, 512), **kw)


# --- data -------------------------------------------------------------------------------------------
def test_batches_are_packed_masked_and_deterministic(corpus, toks):
    spec = _spec(corpus, toks["new"])
    a, b = PackedMLMStream(spec), PackedMLMStream(spec)
    special = torch.tensor(spec.special_ids)
    chosen = total = replaced = 0
    for _ in range(20):
        x, y = a.next_batch(), b.next_batch()
        assert torch.equal(x["input_ids"], y["input_ids"]) and torch.equal(x["labels"], y["labels"])
        assert x["input_ids"].shape == (8, 32)
        assert not (x["input_ids"] == spec.tokenizer.pad_token_id).any()  # packed: no padding at all
        sel = x["labels"] != -100
        assert not torch.isin(x["labels"][sel], special).any()  # specials are never prediction targets
        orig = torch.where(sel, x["labels"], x["input_ids"])
        total += int((~torch.isin(orig, special)).sum())
        chosen += int(sel.sum())
        replaced += int((x["input_ids"][sel] == spec.mask_id).sum())
    assert 0.12 < chosen / total < 0.18
    assert 0.72 < replaced / chosen < 0.88
    other = PackedMLMStream(_spec(corpus, toks["new"], seed=4)).next_batch()
    assert not torch.equal(other["input_ids"], PackedMLMStream(spec).next_batch()["input_ids"])


def test_resume_from_state_continues_the_stream(corpus, toks):
    spec = _spec(corpus, toks["new"])
    s = PackedMLMStream(spec)
    batches = [s.next_batch() for _ in range(12)]
    resumed = PackedMLMStream(spec, state=json.loads(json.dumps(batches[5]["state"])))  # survives JSON
    for want in batches[6:]:
        got = resumed.next_batch()
        assert torch.equal(got["input_ids"], want["input_ids"]) and torch.equal(got["labels"], want["labels"])


def test_heldout_lines_are_never_trained_on(tmp_path, toks):
    texts = {lab: [f"{lab[:3]} zeile nummer {i} ende" for i in range(45)] for lab in ("aaa_Latn", "bbb_Latn")}
    write_corpus(tmp_path, texts, rows_per_part=10)  # 5 part files per label: reads cross files
    held = heldout_texts(tmp_path, HeldOut(stride=20, max_lines=200))
    assert held["aaa_Latn"] == [
        "aaa zeile nummer 0 ende",
        "aaa zeile nummer 20 ende",
        "aaa zeile nummer 40 ende",
    ]
    spec = _spec(tmp_path, toks["new"], max_len=64, batch_size=4)
    s = PackedMLMStream(spec)
    seen = set()
    for _ in range(30):  # > 2 epochs of both labels
        b = s.next_batch()
        orig = torch.where(b["labels"] != -100, b["labels"], b["input_ids"])
        for row in orig.tolist():
            seen.update(spec.tokenizer.decode(row).replace("<s>", "\n").replace("</s>", "\n").split("\n"))
    numbers = {int(t.split()[3]) for t in seen if len(t.split()) == 5 and t.split()[3].isdigit()}
    assert numbers, "no complete line decoded"
    assert not numbers & {0, 20, 40}
    assert s.epochs.min() >= 1


def test_labels_follow_alpha_sampling(tmp_path, toks):
    write_corpus(tmp_path, {"big_Latn": ["x y"] * 1000, "sma_Latn": ["y x"] * 10})
    for alpha in (0.3, 1.0):
        spec = _spec(tmp_path, toks["new"], max_len=8, batch_size=64, alpha=alpha)
        s = PackedMLMStream(spec)
        ids = np.concatenate([s.next_batch()["label_ids"].numpy() for _ in range(40)])
        share = float((ids == spec.labels.index("sma_Latn")).mean())
        sizes = {"big_Latn": 1000 - HeldOut().count(1000), "sma_Latn": 10 - HeldOut().count(10)}
        want = sampling_probabilities(sizes, alpha)["sma_Latn"]
        assert abs(share - want) < 0.04, (alpha, share, want)


@pytest.mark.slow  # spawns four worker processes (each imports torch): ~10-40 s on a busy machine
def test_dataloader_workers_resume_in_the_same_order(corpus, toks):
    from torch.utils.data import DataLoader

    spec = _spec(corpus, toks["new"])

    def loader(**kw):
        ds = MLMBatches(spec, num_workers=2, **kw)
        return iter(DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="spawn"))

    first = [next(it) for it in [loader()] for _ in range(7)]
    assert [b["shard"] for b in first] == [0, 1, 0, 1, 0, 1, 0]
    assert not torch.equal(first[0]["input_ids"], first[1]["input_ids"])
    states = {b["shard"]: b["state"] for b in first[:5]}
    it = loader(states=states, rotation=5)
    for want in first[5:]:
        got = next(it)
        assert got["shard"] == want["shard"] and torch.equal(got["input_ids"], want["input_ids"])


# --- model setup ------------------------------------------------------------------------------------
def test_extend_vocabulary_mean_init_keeps_rows_and_ties(toks):
    from transformers import XLMRobertaForMaskedLM

    from glotforge.train.modeling import scratch_config

    base_tok, ext_tok = load_tokenizer(toks["base"]), load_tokenizer(toks["extended"])
    torch.manual_seed(0)
    model = XLMRobertaForMaskedLM(scratch_config(base_tok, 32, hidden_size=32, num_hidden_layers=1))
    old = model.get_input_embeddings().weight.detach().clone()
    old_bias = model.lm_head.bias.detach().clone()
    stats = extend_vocabulary(model, base_tok, ext_tok, "mean")
    new = model.get_input_embeddings().weight
    assert new.shape[0] == len(ext_tok) > len(base_tok)
    assert model.get_output_embeddings().weight is new  # still tied
    assert model.lm_head.bias.shape[0] == len(ext_tok)
    # <mask> moved to the end and keeps its trained row; the row at its old id now belongs to a new piece
    assert ext_tok.mask_token_id != base_tok.mask_token_id
    assert torch.equal(new[ext_tok.mask_token_id], old[base_tok.mask_token_id])
    assert torch.equal(model.lm_head.bias[ext_tok.mask_token_id], old_bias[base_tok.mask_token_id])
    copy, split = subword_sources(ext_tok, base_tok)
    for i, j in list(copy.items())[:50]:
        assert torch.equal(new[i], old[j])
    some = [(i, ids) for i, ids in split.items() if len(ids) >= 2][:20]
    assert some
    for i, ids in some:
        assert torch.allclose(new[i], old[ids].mean(0))
    assert stats["mean"] > 0 and stats["copied"] == len(copy)

    torch.manual_seed(0)
    rnd = XLMRobertaForMaskedLM(scratch_config(base_tok, 32, hidden_size=32, num_hidden_layers=1))
    extend_vocabulary(rnd, base_tok, ext_tok, "random")
    i, ids = some[0]
    assert not torch.allclose(rnd.get_input_embeddings().weight[i], old[ids].mean(0))


def test_masked_only_loss_equals_full_loss(corpus, toks):
    from transformers import XLMRobertaForMaskedLM

    from glotforge.train.modeling import scratch_config

    tok = load_tokenizer(toks["new"])
    model = XLMRobertaForMaskedLM(scratch_config(tok, 32, hidden_size=32)).eval()
    b = PackedMLMStream(_spec(corpus, toks["new"])).next_batch()
    full = model(input_ids=b["input_ids"], labels=b["labels"]).loss
    fast = MaskedOnlyLoss(model)(b["input_ids"], b["labels"])
    assert torch.allclose(full, fast, atol=1e-5)


# --- training and resume ------------------------------------------------------------------------------
def test_train_loss_falls_and_resume_reproduces_losses(corpus, toks, tmp_path):
    kw = dict(corpus=str(corpus), tokenizer=str(toks["new"]), from_scratch=True, hidden_size=32,
              num_layers=2, num_heads=2, intermediate_size=64, max_len=32, batch_size=8, grad_accum=2,
              max_steps=24, lr=2e-3, warmup_steps=4, save_every=8, log_every=1, seed=7)  # fmt: skip
    full = train(make_config(**kw, output=str(tmp_path / "full")), echo=lambda s: None)
    losses = full["losses"]
    assert np.mean([losses[s] for s in range(20, 25)]) < np.mean([losses[s] for s in range(1, 6)]) - 0.3
    assert sorted(p.name for p in (tmp_path / "full" / "checkpoints").iterdir()) == [
        "step-00000008", "step-00000016", "step-00000024"]  # fmt: skip
    part = tmp_path / "part"
    shutil.copytree(
        tmp_path / "full" / "checkpoints" / "step-00000016", part / "checkpoints" / "step-00000016"
    )
    resumed = train(make_config(**kw, output=str(part), resume=True), echo=lambda s: None)
    assert sorted(resumed["losses"]) == list(range(17, 25))
    assert [resumed["losses"][s] for s in range(17, 25)] == [losses[s] for s in range(17, 25)]
    log = read_log(tmp_path / "full")
    assert [r["step"] for r in log] == list(range(1, 25))
    assert all(r["tokens_per_s"] > 0 and r["lr"] > 0 for r in log)
    per_label = json.loads((tmp_path / "full" / "tokens_per_label.json").read_text())
    assert sum(per_label.values()) == 24 * 2 * 8 * 32 == log[-1]["tokens_seen"]


# --- end to end through the CLI -------------------------------------------------------------------------
def _ok(args: list[str]):
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.slow
def test_cli_build_vocab_train_resume_eval(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "out"
    _ok(["build", str(repo / "corpus/data/sample/sources"), "-o", str(out)])
    labels = sorted(p.name for p in (out / "corpus").iterdir())
    latin = [lab for lab in LATIN if lab in labels]
    _ok(["vocab", "train", str(out / "corpus"), "-o", str(out / "vocab/base"), "--vocab-size", "800",
         "--sentences", "4000", *[a for lab in latin for a in ("--label", lab)]])  # fmt: skip
    _ok(["vocab", "train", str(out / "corpus"), "-o", str(out / "vocab/new"), "--vocab-size", "3000",
         "--character-coverage", "0.995", "--sentences", "20000"])  # fmt: skip
    _ok(["vocab", "extend", "--base", str(out / "vocab/base"), "--new", str(out / "vocab/new"),
         "-o", str(out / "vocab/extended")])  # fmt: skip
    small = ["--recipe", "demo", "--max-len", "32", "--batch-size", "8", "--set", "hidden_size=32",
             "--set", "intermediate_size=64", "--set", "log_every=1", "--set", "warmup_steps=3"]  # fmt: skip
    _ok(["train", "mlm", str(out), "-o", str(out / "mlm/base"), "--from-scratch", "--tokenizer",
         str(out / "vocab/base"), "--max-steps", "15", *small])  # fmt: skip
    run = out / "mlm/cont"
    cont = ["train", "mlm", str(out / "corpus"), "--model", str(out / "mlm/base/model"),
            "--tokenizer", str(out / "vocab/extended"), "--max-steps", "24", "--save-every", "8", *small]  # fmt: skip
    _ok([*cont, "-o", str(run)])
    full = {r["step"]: r["loss"] for r in read_log(run)}
    assert np.mean([full[s] for s in range(20, 25)]) < np.mean([full[s] for s in range(1, 6)])
    part = out / "mlm/part"
    shutil.copytree(run / "checkpoints/step-00000016", part / "checkpoints/step-00000016")
    _ok([*cont, "-o", str(part), "--resume"])
    again = {r["step"]: r["loss"] for r in read_log(part)}
    assert [again[s] for s in range(17, 25)] == [full[s] for s in range(17, 25)]

    # a bare --resume takes the run's own settings (train_config.json) and continues past the end
    _ok(["train", "mlm", str(out), "-o", str(run), "--resume", "--max-steps", "26"])
    assert [r["step"] for r in read_log(run)][-3:] == [24, 25, 26]

    ev = out / "stats"  # where `glot report OUT` finds eval.json
    res = _ok(["eval", "--model", f"base={out / 'mlm/base/model'}", "--model", f"trained={run / 'model'}",
               "--corpus", str(out), "-o", str(ev), "--max-lines", "1", "--max-len", "32"])  # fmt: skip
    assert "trained" in res.output
    data = json.loads((ev / "eval.json").read_text())
    assert sorted(data["pppl"]) == labels
    for lab in labels:
        for name in ("base", "trained"):
            assert data["pppl"][lab][name]["pppl"] > 1
    sample_labels = set(pl.read_parquet(repo / "corpus/data/sample/udhr_sample.parquet")["label"])
    assert set(data["retrieval"]) == sample_labels - {"eng_Latn"}
    assert all(0 <= v[n]["top1"] <= v[n]["top10"] <= 1 for v in data["retrieval"].values() for n in v)
    assert (ev / "eval.md").read_text().count("| trained |") == 1
    _ok(["report", str(out), "-o", str(out / "report.html")])
    html = (out / "report.html").read_text()
    assert "Evaluation" in html and "trained.top10" in html


@pytest.mark.slow
def test_torchrun_two_cpu_processes_share_data_and_resume(corpus, toks, tmp_path):
    """DDP through torchrun (gloo on CPU) with no code change: ranks read different shards, tokens are
    summed over ranks, every rank writes its own data state, and resume reproduces the losses."""
    import os
    import subprocess
    import sys

    torchrun = Path(sys.executable).with_name("torchrun")
    args = [str(corpus), "--from-scratch", "--tokenizer", str(toks["new"]), "--recipe", "demo", "--max-steps",
            "6", "--save-every", "3", "--max-len", "32", "--batch-size", "4", "--set", "log_every=1",
            "--set", "hidden_size=32", "--set", "intermediate_size=64"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(out: Path, *extra: str) -> None:
        cmd = [str(torchrun), "--nproc_per_node", "2", "-m", "glotforge.pipelines", "train", "mlm", *args,
               "-o", str(out), *extra]  # fmt: skip
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]

    run(tmp_path / "full")
    ck = tmp_path / "full/checkpoints/step-00000003"
    assert (ck / "rank-00000.pt").exists() and (ck / "rank-00001.pt").exists()
    full = read_log(tmp_path / "full")
    assert [r["tokens_seen"] for r in full] == [2 * 4 * 32 * s for s in range(1, 7)]
    shutil.copytree(ck, tmp_path / "part/checkpoints/step-00000003")
    run(tmp_path / "part", "--resume")
    assert [r["loss"] for r in read_log(tmp_path / "part")] == [r["loss"] for r in full[3:]]

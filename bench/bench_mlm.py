"""Training throughput: `glot train mlm` against the standard Hugging Face MLM recipe, same model and data.

Baseline = transformers' `run_mlm.py --line_by_line` recipe: `Trainer` + `DataCollatorForLanguageModeling`
(15 % masking, dynamic padding to the longest line of the batch, lines truncated to `max_len`, no
packing), fed α-sampled lines of the same corpus (the shared sampler). Ours = `glotforge.train.mlm.train`
(packed monolingual sequences, masked-positions-only LM head), plus ours with the full-vocabulary head
to separate the two effects. The metric is *useful* tokens per second: non-padding tokens the model
reads (all of ours are useful; the baseline's padding is not). The baseline's lines are tokenised before
timing starts; ours tokenises inside the timed loop.

    .venv/bin/python bench/bench_mlm.py                       # CPU, writes bench/out/mlm.json
    .venv/bin/python bench/bench_mlm.py --vocab-rows 250002 --steps 8 --warmup 2 --repeats 1 --skip-full-head

Figures and the machine they came from: docs/benchmarks.md ("MLM training throughput").
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import polars as pl
import torch

ROOT = Path(__file__).resolve().parents[1]


def make_corpus(out: Path) -> Path:
    """The bundled sample in the corpus contract layout (one part file per label)."""
    df = pl.read_parquet(ROOT / "corpus/data/sample/udhr_sample.parquet").sort(["label", "article", "unit"])
    for (label,), g in df.group_by("label", maintain_order=True):
        d = out / "corpus" / label
        d.mkdir(parents=True, exist_ok=True)
        g.select("text").write_parquet(d / "part-00000.parquet")
    return out


def baseline(cfg, tok_dir: str, model_dir: Path, steps: int, warmup: int) -> dict:
    """HF Trainer + DataCollatorForLanguageModeling, line by line, dynamic padding."""
    from transformers import (
        AutoModelForMaskedLM,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from glotforge.train.modeling import load_tokenizer
    from glotforge.train.sampling import iter_sampled_texts

    tok = load_tokenizer(tok_dir, cfg.max_len)
    n = (steps + warmup + 2) * cfg.batch_size
    lines = [t for _, t in iter_sampled_texts(cfg.corpus, n, alpha=cfg.alpha, seed=cfg.seed)]
    data = [{"input_ids": ids} for ids in tok(lines, truncation=True, max_length=cfg.max_len)["input_ids"]]
    base = DataCollatorForLanguageModeling(tok, mlm_probability=cfg.mlm_probability)
    useful: list[int] = []

    def collate(examples):
        b = base(examples)
        useful.append(int(b["attention_mask"].sum()))
        return b

    stamps: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            stamps.append(time.perf_counter())

    args = TrainingArguments(output_dir=str(model_dir / "hf"), per_device_train_batch_size=cfg.batch_size,
                             max_steps=steps + warmup, learning_rate=cfg.lr, warmup_steps=0, logging_steps=10**6,
                             save_strategy="no", report_to=[], use_cpu=not torch.cuda.is_available(),
                             dataloader_num_workers=0, seed=cfg.seed, disable_tqdm=True,
                             bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported())  # fmt: skip
    model = AutoModelForMaskedLM.from_pretrained(model_dir)
    Trainer(model=model, args=args, train_dataset=data, data_collator=collate, processing_class=tok,
            callbacks=[Clock()]).train()  # fmt: skip
    secs = stamps[-1] - stamps[warmup - 1]
    per_batch = statistics.mean(useful)
    total = statistics.mean(b for b in (len(d["input_ids"]) for d in data))
    return {"useful_tokens_per_s": per_batch * steps / secs, "step_s": secs / steps,
            "padding_share": 1 - per_batch / (cfg.batch_size * _mean_width(data, cfg.batch_size)),
            "mean_line_tokens": total}  # fmt: skip


def _mean_width(data, bs):
    widths = [max(len(d["input_ids"]) for d in data[i : i + bs]) for i in range(0, len(data), bs)]
    return statistics.mean(widths)


def ours(cfg, model_dir: Path, out: Path, steps: int, warmup: int, masked_only: bool) -> dict:
    from dataclasses import replace

    from glotforge.train.mlm import read_log, train

    run = replace(cfg, model=str(model_dir), output=str(out), max_steps=steps + warmup, log_every=1,
                  masked_only_head=masked_only, save_every=10**9)  # fmt: skip
    stamps: list[float] = []
    train(run, echo=lambda s: stamps.append(time.perf_counter()))
    log = read_log(out)
    secs = stamps[-1] - stamps[warmup - 1]  # echo is called right after each logged step
    tokens = cfg.batch_size * cfg.max_len * cfg.grad_accum * steps
    return {"useful_tokens_per_s": tokens / secs, "step_s": secs / steps, "final_loss": log[-1]["loss"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=str(ROOT / "bench/out/mlm"))
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--vocab-size", type=int, default=8000, help="SentencePiece pieces trained on the sample")
    ap.add_argument("--vocab-rows", type=int, default=None, help="Grow the output layer to this many rows")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2, help="Runs of each variant, interleaved (median kept)")
    ap.add_argument(
        "--skip-full-head", action="store_true", help="Leave out ours with the full-vocabulary head"
    )
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from transformers import XLMRobertaForMaskedLM

    from glotforge.train.mlm import make_config
    from glotforge.train.modeling import load_tokenizer, scratch_config
    from glotforge.train.vocab import VocabTrainConfig, train_vocab

    work = Path(a.work)
    corpus = make_corpus(work / "build")
    tok_dir = work / f"tok{a.vocab_size}"
    if not (tok_dir / "tokenizer.json").exists():
        train_vocab(corpus, tok_dir, VocabTrainConfig(vocab_size=a.vocab_size, character_coverage=0.995,
                                                      input_sentences=20000))  # fmt: skip
    tok = load_tokenizer(tok_dir, a.max_len)
    torch.manual_seed(0)
    mcfg = scratch_config(tok, a.max_len, hidden_size=a.hidden, num_hidden_layers=a.layers,
                          num_attention_heads=max(1, a.hidden // 64), intermediate_size=4 * a.hidden)  # fmt: skip
    model = XLMRobertaForMaskedLM(mcfg)
    if a.vocab_rows:
        model.resize_token_embeddings(a.vocab_rows, mean_resizing=False)
    model_dir = work / "model"
    model.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    cfg = make_config(corpus=str(corpus), tokenizer=str(tok_dir), max_len=a.max_len, batch_size=a.batch_size,
                      grad_accum=1, lr=1e-4, seed=0, precision="auto")  # fmt: skip

    runs: dict[str, list[dict]] = {"hf_trainer_line_by_line": [], "glot_packed_masked_head": [],
                                   "glot_packed_full_head": []}  # fmt: skip
    for r in range(a.repeats):
        runs["hf_trainer_line_by_line"].append(baseline(cfg, str(tok_dir), model_dir, a.steps, a.warmup))
        runs["glot_packed_masked_head"].append(
            ours(cfg, model_dir, work / f"ours{r}", a.steps, a.warmup, True)
        )
        if not a.skip_full_head:
            runs["glot_packed_full_head"].append(
                ours(cfg, model_dir, work / f"full{r}", a.steps, a.warmup, False)
            )
    med = {k: statistics.median(x["useful_tokens_per_s"] for x in v) for k, v in runs.items() if v}
    base = med["hf_trainer_line_by_line"]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({platform.processor() or platform.machine()}), {a.threads} thread(s)"  # fmt: skip
    result = {"device": device, "args": vars(a), "vocab_rows": model.get_input_embeddings().weight.shape[0],
              "params": sum(p.numel() for p in model.parameters()), "runs": runs,
              "median_useful_tokens_per_s": med, "speedup_vs_baseline": {k: v / base for k, v in med.items()},
              "torch": torch.__version__, "python": sys.version.split()[0]}  # fmt: skip
    (work / "mlm.json").write_text(json.dumps(result, indent=1))
    print(f"device: {device}; vocab rows {result['vocab_rows']:,}; params {result['params']:,}")
    print("| variant | useful tokens/s (median) | x baseline |\n| --- | --- | --- |")
    for k, v in med.items():
        print(f"| {k} | {v:,.0f} | {v / base:.2f} |")
    print(
        f"baseline padding share: {statistics.mean(x['padding_share'] for x in runs['hf_trainer_line_by_line']):.1%}"
    )
    print(f"→ {work / 'mlm.json'}")


if __name__ == "__main__":
    main()

"""`glot eval`: did continued pretraining help? Pseudo-perplexity and sentence retrieval, side by side.

Two measurements from Glot500's protocol (glot500.md §8), for any number of models at once:

* **Pseudo-perplexity** (Salazar et al. 2020) per language on the held-out lines of the corpus (the rows
  `train/data.py` never trains on): each token is masked in turn and scored; PPPL = exp(−Σ log p / N).
  Tokenizers differ between a base and an extended model, and PPPL per *token* is not comparable across
  tokenizations, so we also report NLL per character in bits (`bpc`), which is.
* **Sentence retrieval** on a parallel set: the bundled UDHR sample aligned by article (one text per
  article = its units joined). Each pivot-language article is a query against all articles of the other
  language; embeddings are hidden states of one layer mean-pooled over the attention mask (special
  tokens included), cosine similarity; top-1 and top-10 accuracy. Glot500 used layer 8 of 12; by
  default we take the same relative depth (`default_layer`).

Results go to `EVAL_DIR/eval.json` and `EVAL_DIR/eval.md`. With `-o OUT/stats` the HTML report of the
build (`glot report OUT`) shows them (it reads every OUT/stats/*.json; `rows` is its per-language table,
`summary` its one-line headline); otherwise pass `glot report OUT --extra EVAL_DIR/eval.json`.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from glotforge.train.data import HeldOut, heldout_texts
from glotforge.train.modeling import load_model, load_tokenizer, mlm_head

EVAL_JSON = "eval.json"
EVAL_MD = "eval.md"


def sample_path() -> Path:
    """The bundled UDHR sample (parallel by article), shipped as package data of glotforge.corpus."""
    return Path(str(resources.files("glotforge.corpus").joinpath("data/sample/udhr_sample.parquet")))


def default_layer(n_layers: int) -> int:
    """Glot500's layer 8 of 12 at the same relative depth: 12 → 8, 24 → 16, 2 → 1."""
    return max(1, round(n_layers * 8 / 12))


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def pseudo_log_likelihood(model, tok, texts: list[str], max_len: int = 128, batch_size: int = 128) -> dict:
    """Sum of log p(token | rest) over the non-special tokens of `texts` (each masked in turn)."""
    dev = next(model.parameters()).device
    head = mlm_head(model)
    base = getattr(model, model.base_model_prefix)
    special = set(tok.all_special_ids)
    items: list[tuple[list[int], int]] = []  # (ids, position to mask)
    n_chars = 0
    for text in texts:
        ids = tok(text, truncation=True, max_length=max_len)["input_ids"]
        kept = [p for p, t in enumerate(ids) if t not in special]
        if kept:  # characters only of the text actually scored (truncation may cut it)
            n_chars += len(tok.decode(ids, skip_special_tokens=True))
        items.extend((ids, p) for p in kept)
    items.sort(key=lambda x: len(x[0]))
    unk = sum(1 for ids, p in items if ids[p] == tok.unk_token_id)
    nll, pad = 0.0, tok.pad_token_id
    for s in range(0, len(items), batch_size):
        chunk = items[s : s + batch_size]
        width = max(len(ids) for ids, _ in chunk)
        inp = torch.full((len(chunk), width), pad, dtype=torch.long)
        att = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, (ids, _) in enumerate(chunk):
            inp[r, : len(ids)] = torch.tensor(ids)
            att[r, : len(ids)] = 1
        pos = torch.tensor([p for _, p in chunk])
        rows = torch.arange(len(chunk))
        target = inp[rows, pos].clone()
        inp[rows, pos] = tok.mask_token_id
        inp, att = inp.to(dev), att.to(dev)
        if head is not None:
            h = base(input_ids=inp, attention_mask=att).last_hidden_state
            logits = head(h[rows.to(dev), pos.to(dev)])
        else:
            logits = model(input_ids=inp, attention_mask=att).logits[rows.to(dev), pos.to(dev)]
        logp = torch.log_softmax(logits.float(), -1)[torch.arange(len(chunk), device=dev), target.to(dev)]
        nll -= float(logp.sum())
    n = len(items)
    return {
        "pppl": math.exp(nll / n) if n else None,
        "bpc": nll / math.log(2) / n_chars if n_chars else None,
        "tokens": n,
        "unk_share": unk / n if n else None,  # <unk> is easy to predict: a high share flatters pppl/bpc
        "lines": len(texts),
    }


def parallel_articles(path: str | Path | None = None) -> dict[str, dict[int, str]]:
    """label → {article: text}: the units of each article joined in order (articles align across labels)."""
    df = pl.read_parquet(path or sample_path(), columns=["label", "article", "unit", "text"])
    df = (
        df.sort(["label", "article", "unit"])
        .group_by(["label", "article"], maintain_order=True)
        .agg(pl.col("text").str.join(" "))
    )
    out: dict[str, dict[int, str]] = {}
    for label, article, text in df.iter_rows():
        out.setdefault(label, {})[int(article)] = text
    return out


@torch.no_grad()
def embed(model, tok, texts: list[str], layer: int, max_len: int = 128, batch_size: int = 32) -> np.ndarray:
    """Mean-pooled hidden states of `layer` (0 = embeddings output) over the attention mask, as in
    Glot500's retrieval code; rows L2-normalised so that a dot product is the cosine."""
    dev = next(model.parameters()).device
    base = getattr(model, model.base_model_prefix)
    out = []
    for s in range(0, len(texts), batch_size):
        enc = tok(
            texts[s : s + batch_size], truncation=True, max_length=max_len, padding=True, return_tensors="pt"
        )
        enc = {k: v.to(dev) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        hs = base(**enc, output_hidden_states=True).hidden_states[layer]
        m = enc["attention_mask"].unsqueeze(-1).to(hs.dtype)
        v = (hs * m).sum(1) / m.sum(1).clamp(min=1)
        out.append(torch.nn.functional.normalize(v.float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


def retrieval(model, tok, articles: dict[str, dict[int, str]], pivot: str = "eng_Latn", layer: int | None = None,
              max_len: int = 128, labels: list[str] | None = None) -> dict[str, dict]:  # fmt: skip
    """label → {top1, top10, n}: pivot articles as queries against each other label's articles."""
    if pivot not in articles:
        raise KeyError(f"pivot {pivot} not in the parallel set")
    layer = default_layer(model.config.num_hidden_layers) if layer is None else layer
    targets = [lab for lab in (labels or sorted(articles)) if lab != pivot and lab in articles]
    emb = {lab: embed(model, tok, list(articles[lab].values()), layer, max_len) for lab in [pivot, *targets]}
    keys = {lab: list(articles[lab]) for lab in emb}
    res: dict[str, dict] = {}
    for lab in targets:
        common = [a for a in keys[pivot] if a in articles[lab]]
        q = emb[pivot][[keys[pivot].index(a) for a in common]]
        sims = q @ emb[lab].T  # queries × all articles of `lab`
        gold = np.array([keys[lab].index(a) for a in common])
        rank = (sims > sims[np.arange(len(common)), gold][:, None]).sum(1)  # 0 = best
        res[lab] = {"top1": float((rank < 1).mean()), "top10": float((rank < 10).mean()),
                    "n": len(common), "candidates": len(keys[lab])}  # fmt: skip
    return res


def evaluate_models(
    models: dict[str, str],
    corpus: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    parallel: str | Path | None = None,
    pivot: str = "eng_Latn",
    layer: int | None = None,
    max_lines: int = 10,
    max_len: int = 128,
    heldout: HeldOut | None = None,
    echo=print,
) -> dict[str, Any]:
    """Evaluate every model (name → folder or hub id) on the same data; write eval.json/eval.md."""
    heldout = heldout or HeldOut()
    texts = heldout_texts(corpus, heldout, max_lines) if corpus else {}
    articles = parallel_articles(parallel)
    result: dict[str, Any] = {
        "version": 1,
        "settings": {"corpus": str(corpus) if corpus else None, "parallel": str(parallel or sample_path()),
                     "pivot": pivot, "max_lines": max_lines, "max_len": max_len,
                     "heldout": {"stride": heldout.stride, "max_lines": heldout.max_lines}},
        "models": {}, "pppl": {}, "retrieval": {},
    }  # fmt: skip
    dev = _device()
    for name, path in models.items():
        echo(f"evaluating {name} ({path})")
        model = load_model(path).to(dev).eval()
        limit = getattr(model.config, "max_position_embeddings", max_len + 2) - 2  # positions start at 2
        length = min(max_len, limit)
        tok = load_tokenizer(path, length)
        n_layers = model.config.num_hidden_layers
        use_layer = default_layer(n_layers) if layer is None else layer
        result["models"][name] = {"path": str(path), "layers": n_layers, "layer": use_layer, "vocab": len(tok),
                                  "max_len": length}  # fmt: skip
        for label, lines in texts.items():
            result["pppl"].setdefault(label, {})[name] = pseudo_log_likelihood(model, tok, lines, length)
        for label, r in retrieval(model, tok, articles, pivot, use_layer, length).items():
            result["retrieval"].setdefault(label, {})[name] = r
        del model
    result["summary_by_model"] = summarize(result)
    result["summary"] = {f"{n} {k}": v[k] for k in ("top10_mean", "pppl_median", "bpc_mean")
                         for n, v in result["summary_by_model"].items()}  # fmt: skip
    result["rows"] = rows(result)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / EVAL_JSON).write_text(json.dumps(result, indent=1))
        (out / EVAL_MD).write_text(markdown(result))
    return result


def summarize(result: dict[str, Any]) -> dict[str, dict]:
    """Per model: mean and median PPPL and bpc over languages, mean top-1/top-10 over languages."""
    out = {}
    for name in result["models"]:
        pp = [v[name]["pppl"] for v in result["pppl"].values() if v.get(name, {}).get("pppl") is not None]
        bpc = [v[name]["bpc"] for v in result["pppl"].values() if v.get(name, {}).get("bpc") is not None]
        r1 = [v[name]["top1"] for v in result["retrieval"].values() if name in v]
        r10 = [v[name]["top10"] for v in result["retrieval"].values() if name in v]
        out[name] = {
            "pppl_mean": float(np.mean(pp)) if pp else None, "pppl_median": float(np.median(pp)) if pp else None,
            "bpc_mean": float(np.mean(bpc)) if bpc else None, "pppl_labels": len(pp),
            "top1_mean": float(np.mean(r1)) if r1 else None, "top10_mean": float(np.mean(r10)) if r10 else None,
            "retrieval_labels": len(r1),
        }  # fmt: skip
    return out


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per language with each model's numbers nested under its name: the table the HTML
    report (`glot report OUT`, which reads OUT/stats/eval.json) shows with dotted columns."""
    out = []
    for lab in sorted(set(result["pppl"]) | set(result["retrieval"])):
        rec: dict[str, Any] = {"label": lab}
        for n in result["models"]:
            p = result["pppl"].get(lab, {}).get(n, {})
            r = result["retrieval"].get(lab, {}).get(n, {})
            rec[n] = {
                "pppl": p.get("pppl"),
                "bpc": p.get("bpc"),
                "top1": r.get("top1"),
                "top10": r.get("top10"),
            }
        out.append(rec)
    return out


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def markdown(result: dict[str, Any]) -> str:
    """Summary table plus per-language tables (PPPL/bpc and retrieval), one column group per model."""
    names = list(result["models"])
    s = result["summary_by_model"]
    lines = ["# Evaluation", "", "| model | layer | PPPL mean | PPPL median | bpc mean | top-1 | top-10 | langs |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for n in names:
        m = s[n]
        lines.append(f"| {n} | {result['models'][n]['layer']} | {_f(m['pppl_mean'], 1)} | {_f(m['pppl_median'], 1)} "
                     f"| {_f(m['bpc_mean'])} | {_f(m['top1_mean'])} | {_f(m['top10_mean'])} "
                     f"| {m['pppl_labels']}/{m['retrieval_labels']} |")  # fmt: skip
    labels = sorted(set(result["pppl"]) | set(result["retrieval"]))
    head = " | ".join(f"{n} PPPL | {n} bpc | {n} top-1 | {n} top-10" for n in names)
    lines += ["", f"Retrieval pivot: {result['settings']['pivot']}.", "", f"| label | {head} |",
              "| --- |" + " --- |" * (4 * len(names))]  # fmt: skip
    for lab in labels:
        cells = []
        for n in names:
            p = result["pppl"].get(lab, {}).get(n, {})
            r = result["retrieval"].get(lab, {}).get(n, {})
            cells += [_f(p.get("pppl"), 1), _f(p.get("bpc")), _f(r.get("top1"), 2), _f(r.get("top10"), 2)]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

"""Extend an XLM-R tokenizer with new SentencePiece pieces without moving a base id (`glot vocab extend`).

The merge works on the SentencePiece ModelProto (packages.md §5): base pieces stay where they are, every
NORMAL piece of the new model whose string the base lacks is appended, the base normalizer and trainer
ids are kept. transformers' XLM-R converter then maps spm id i to HF id i+1 (fairseq offset, `<unk>` → 3)
and puts `<mask>` after the last piece, so `<mask>` moves from `base_len-1` to `len-1` and every other
base id is unchanged. `vocab_merge.json` records the old and new `<mask>` ids so MLM training can copy the
trained `<mask>` row (glot500.md §6: Glot500 lost it).

Score rules for the appended pieces (a unigram model picks the segmentation with the highest sum of
piece scores, so the new scores decide how often base text changes segmentation):

- `new` (Glot500): keep the new model's log-probabilities; both models' scores are unigram
  log-probs, so new pieces compete with base pieces roughly on merit.
- `aligned`: shift all new scores by one constant, the median of (base score − new score) over the
  pieces both models share, so the new model's log-probs are put on the base model's scale (the two
  models were trained on different text with different vocabulary sizes, so their scales differ).
- `below`: new pieces made only of characters the base already has are shifted by one constant so the
  best of them scores `margin` below the worst base piece: the base keeps the upper hand on text it
  already covers (no guarantee of "no change": one new piece can still beat a chain of several base
  pieces). Pieces with a character the base lacks cannot match base-covered text, so they keep their
  own scores and new scripts get the full benefit.
- `protect`: start from `new`, then encode sample text of the base-covered languages (`protect_texts`)
  and cap the score of every appended piece this text uses at `margin` below the best spelling of the
  piece in base pieces; repeat until the text uses no appended piece (or `rounds` passes). A capped
  piece can never win, so the protected text is segmented exactly as by the base (lines where the base
  needs `<unk>` excepted); pieces only tail text needs keep their own scores.
- `zero`: score 0 for every new piece (the Chinese-LLaMA recipe, made for BPE): new pieces win wherever
  they match.

Choice, by measurement (`bench/bench_vocab.py rules`, docs/benchmarks.md; UDHR, 8k-piece base on the
91 XLM-R languages, 16k-piece new model on all 458 labels, held-out articles): `new` re-segments 27.8 %
of head-language word occurrences for a median tokens-per-word ratio of 0.73 on tail languages;
`below` (margin 1) re-segments 3.0 % for 0.91; `protect` 0.9 % for 0.88 (and 0 % on the text it was
given); `zero` 54.8 % for 0.78. Issue 7 asks to keep base segmentation as unchanged as possible, so
the default is `below`, and `protect` when sample text of the base languages is at hand (the CLI picks
it when `--protect` is given); `new` stays available for Glot500 fidelity. Every rule removes the same
`<unk>` (tail `<unk>` rate 5.7 % → 0.5 %): that gain does not depend on scores.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .vocab import SPM_FILE, wrap_xlmr

MERGE_INFO = "vocab_merge.json"
SCORE_RULES = ("new", "aligned", "below", "zero", "protect")
DEFAULT_RULE = "below"  # measured choice, see the module docstring
_HUB_FILES = ["sentencepiece.bpe.model", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"]


def _pb2():
    from sentencepiece import sentencepiece_model_pb2 as pb2

    return pb2


def find_spm_model(path: str | Path) -> Path:
    """The SentencePiece model of a tokenizer folder (or the file itself)."""
    p = Path(path)
    if p.is_file():
        return p
    if (p / SPM_FILE).is_file():
        return p / SPM_FILE
    models = sorted(p.glob("*.model"))
    if len(models) == 1:
        return models[0]
    raise FileNotFoundError(
        f"{path}: no {SPM_FILE} (a tokenizer.json alone cannot be extended: the merge needs the "
        "SentencePiece model)"
    )


def resolve_base(base: str) -> Path:
    """A local tokenizer folder as is; otherwise a hub id, downloaded (needs a network) to the HF cache."""
    p = Path(base)
    if p.exists():
        return p
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=base, allow_patterns=_HUB_FILES))
    except Exception as e:  # offline, unknown repo, no huggingface_hub: one clear message
        raise FileNotFoundError(
            f"base {base!r} is neither a local folder nor a reachable hub id ({e})"
        ) from e


def merge_spm(
    base: bytes,
    new: bytes,
    score_rule: str = DEFAULT_RULE,
    margin: float = 1.0,
    protect_texts: Sequence[str] | None = None,
    rounds: int = 5,
) -> tuple[bytes, dict]:
    """Append the new model's NORMAL pieces missing from the base; returns (merged proto, counts).

    Control, unknown, user-defined and byte pieces of the new model are skipped: the base decides the
    special tokens, and byte pieces would need the base's `byte_fallback` switch."""
    if score_rule not in SCORE_RULES:
        raise ValueError(f"score_rule must be one of {SCORE_RULES}")
    if score_rule == "protect":
        if not protect_texts:
            raise ValueError("score rule 'protect' needs sample text of the base-covered languages")
        merged, info = merge_spm(base, new, "new")
        merged, extra = _protect(merged, info["base_pieces"], protect_texts, margin, rounds)
        return merged, {**info, "score_rule": "protect", **extra}
    pb2 = _pb2()
    m_base, m_new = pb2.ModelProto(), pb2.ModelProto()
    m_base.ParseFromString(base)
    m_new.ParseFromString(new)
    if m_base.trainer_spec.model_type != m_new.trainer_spec.model_type:
        raise ValueError("base and new SentencePiece models have different model types (unigram vs bpe)")
    normal = pb2.ModelProto.SentencePiece.NORMAL
    have = {p.piece for p in m_base.pieces}
    add = [p for p in m_new.pieces if p.type == normal and p.piece not in have]
    add = list({p.piece: p for p in add}.values())
    base_scores = [p.score for p in m_base.pieces if p.type == normal]
    shift = 0.0
    base_chars = {c for p in m_base.pieces if p.type == normal for c in p.piece}
    known = {p.piece for p in add if set(p.piece) <= base_chars}
    if score_rule == "below" and known and base_scores:
        shift = min((min(base_scores) - margin) - max(p.score for p in add if p.piece in known), 0.0)
    elif score_rule == "aligned":
        base_score = {p.piece: p.score for p in m_base.pieces if p.type == normal}
        diffs = sorted(base_score[p.piece] - p.score for p in m_new.pieces if p.piece in base_score)
        shift = statistics.median(diffs) if diffs else 0.0
    for p in add:
        q = m_base.pieces.add()
        q.piece, q.type = p.piece, normal
        if score_rule == "zero":
            q.score = 0.0
        elif score_rule == "below" and p.piece not in known:
            q.score = p.score
        else:
            q.score = p.score + shift
    m_base.trainer_spec.vocab_size = len(m_base.pieces)
    info = {
        "base_pieces": len(m_base.pieces) - len(add),
        "new_pieces": len(m_new.pieces),
        "added": len(add),
        "already_in_base": sum(1 for p in m_new.pieces if p.type == normal and p.piece in have),
        "skipped_special": sum(1 for p in m_new.pieces if p.type != normal),
        "added_base_chars_only": len(known),
        "score_rule": score_rule,
        "score_shift": shift if score_rule in ("below", "aligned") else None,
    }
    return m_base.SerializeToString(), info


def _spelling_score(piece: str, scores: Mapping[str, float], max_len: int) -> float | None:
    """Best total score of `piece` written with base pieces only (unigram Viterbi); None if impossible."""
    best: list[float | None] = [0.0] + [None] * len(piece)
    for end in range(1, len(piece) + 1):
        for start in range(max(0, end - max_len), end):
            s = scores.get(piece[start:end])
            if s is not None and best[start] is not None:
                cand = best[start] + s
                if best[end] is None or cand > best[end]:
                    best[end] = cand
    return best[-1]


def _protect(
    merged: bytes, n_base: int, texts: Sequence[str], margin: float, rounds: int
) -> tuple[bytes, dict]:
    """Cap the appended pieces that base-covered text uses, until it uses none (see `protect`).

    A capped piece scores `margin` below the best spelling of its own string in base pieces, so any
    path through it loses to the same path with that spelling: capped pieces are never chosen, and
    text that ends up using no appended piece is segmented exactly as by the base model."""
    import sentencepiece as spm

    pb2 = _pb2()
    m = pb2.ModelProto()
    m.ParseFromString(merged)
    normal = pb2.ModelProto.SentencePiece.NORMAL
    base_scores = {p.piece: p.score for p in m.pieces[:n_base] if p.type == normal}
    max_len = max(len(k) for k in base_scores)
    floor = min(base_scores.values())
    lines = sorted(set(texts))
    capped: set[int] = set()
    history = []
    for _ in range(rounds):
        sp = spm.SentencePieceProcessor(model_proto=m.SerializeToString())
        used = {i for ids in sp.encode(lines) for i in ids if i >= n_base} - capped
        history.append(len(used))
        if not used:
            break
        for i in used:
            # a piece the base cannot spell (a character it only has inside longer pieces) goes below
            # every base piece instead: it still beats <unk>, which scores 10 below the lowest piece
            spelled = _spelling_score(m.pieces[i].piece, base_scores, max_len)
            m.pieces[i].score = min(m.pieces[i].score, (floor if spelled is None else spelled) - margin)
            capped.add(i)
    return m.SerializeToString(), {
        "protect_lines": len(lines),
        "capped": len(capped),
        "capped_per_round": history,
    }


def _model_max_length(base_dir: Path, default: int = 512) -> int:
    cfg = base_dir / "tokenizer_config.json"
    if cfg.is_file():
        v = json.loads(cfg.read_text(encoding="utf-8")).get("model_max_length")
        if isinstance(v, int) and v < 10**9:
            return v
    return default


def _base_vocab(base_dir: Path, model: Path) -> dict[str, int]:
    """token → id of the base as transformers sees it (its tokenizer.json, else converted from spm)."""
    from transformers import AutoTokenizer

    if (base_dir / "tokenizer.json").is_file() or (base_dir / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(str(base_dir)).get_vocab()
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(model, Path(tmp) / SPM_FILE)
        from transformers import XLMRobertaTokenizer

        return XLMRobertaTokenizer.from_pretrained(tmp).get_vocab()


def extend_tokenizer(
    base: str,
    new: str | Path,
    out_dir: str | Path,
    score_rule: str = DEFAULT_RULE,
    margin: float = 1.0,
    protect_texts: Sequence[str] | None = None,
) -> dict:
    """`glot vocab extend`: merge, save an XLM-R tokenizer folder to `out_dir`, verify the id contract.

    Raises RuntimeError if any base token changed id or `<mask>` is not the last id."""
    from transformers import AutoTokenizer

    base_dir = resolve_base(base)
    base_model = find_spm_model(base_dir)
    new_model = find_spm_model(new)
    merged, info = merge_spm(
        base_model.read_bytes(), new_model.read_bytes(), score_rule, margin, protect_texts=protect_texts
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / SPM_FILE).write_bytes(merged)
    wrap_xlmr(out, _model_max_length(base_dir if base_dir.is_dir() else base_dir.parent))

    tok = AutoTokenizer.from_pretrained(str(out))
    vocab = tok.get_vocab()
    old = _base_vocab(base_dir if base_dir.is_dir() else base_dir.parent, base_model)
    base_mask = old.get("<mask>", len(old) - 1)
    moved = [t for t, i in old.items() if t != "<mask>" and vocab.get(t) != i]
    if moved:
        raise RuntimeError(f"{len(moved)} base tokens changed id, e.g. {moved[:5]}")
    if tok.mask_token_id != len(tok) - 1:
        raise RuntimeError(f"<mask> has id {tok.mask_token_id}, expected the last id {len(tok) - 1}")
    info.update(
        {
            "base": str(base),
            "new": str(new),
            "base_len": len(old),
            "len": len(tok),
            "base_mask_id": base_mask,
            "mask_id": tok.mask_token_id,
            "first_added_id": len(old) - 1,
            "note": "HF ids: base ids kept except <mask>, which moved to the end; copy its embedding row",
        }
    )
    (out / MERGE_INFO).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def check_tokenizer(tokenizer_dir: str | Path, texts: Sequence[str]) -> dict:
    """Compare slow (`use_fast=False`), fast and raw SentencePiece (with the fairseq offset) ids.

    In transformers 5 slow and fast XLM-R are one class, so raw SentencePiece is the independent
    reference. Also checks that HF decode equals SentencePiece decode on lines without `<unk>` or
    special-token strings (SentencePiece cannot encode `<mask>`)."""
    import sentencepiece as spm
    from transformers import AutoTokenizer

    d = Path(tokenizer_dir)
    slow = AutoTokenizer.from_pretrained(str(d), use_fast=False)
    fast = AutoTokenizer.from_pretrained(str(d), use_fast=True)
    sp = spm.SentencePieceProcessor(model_file=str(find_spm_model(d)))
    unk = slow.unk_token_id
    res = {
        "lines": len(texts),
        "slow_vs_fast": 0,
        "hf_vs_spm": 0,
        "roundtrip_fail": 0,
        "roundtrip_checked": 0,
    }
    examples: list[str] = []
    ids_slow = slow(list(texts), add_special_tokens=False)["input_ids"]
    ids_fast = fast(list(texts), add_special_tokens=False)["input_ids"]
    for text, a, b, raw in zip(texts, ids_slow, ids_fast, sp.encode(list(texts)), strict=True):
        ref = [i + 1 if i != sp.unk_id() else unk for i in raw]
        res["slow_vs_fast"] += a != b
        if a != ref:
            res["hf_vs_spm"] += 1
            if len(examples) < 5:
                examples.append(text[:80])
        if unk not in a and not any(t in text for t in slow.all_special_tokens):
            res["roundtrip_checked"] += 1
            res["roundtrip_fail"] += fast.decode(a) != sp.decode(raw)
    res["hf_vs_spm_examples"] = examples
    return res

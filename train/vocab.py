"""Train a SentencePiece model on the α-sampled corpus (`glot vocab train`).

Why this shape: Glot500 trains its new unigram model on a scale-1 α-sample of the corpus written to one
big text file (glot500.md §5, §6). Here the sample comes from the shared sampler
(`glotforge.train.sampling.iter_sampled_texts`, the same rows the MLM trainer would draw for that seed)
and is streamed into `SentencePieceTrainer.train(sentence_iterator=...)`: no temporary text file, and
the Python side holds one sampler block at a time. SentencePiece itself keeps the sentences it is given
in memory, so peak memory is set by `input_sentences` (the input cap), which is exactly what we feed.

The output folder holds `sentencepiece.bpe.model` (XLM-R's file name, although the model is unigram by
default: `vocab extend` and transformers' XLM-R converter both look for that name), an XLM-R-style
Hugging Face tokenizer wrapping it (handy to compare the new model alone), and `vocab_train.json` with
the options, the sampling plan summary and the timing.
"""

from __future__ import annotations

import io
import json
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .sampling import DEFAULT_ALPHA, iter_sampled_texts, label_sizes, sampling_plan

SPM_FILE = "sentencepiece.bpe.model"
TRAIN_INFO = "vocab_train.json"


@dataclass
class VocabTrainConfig:
    """Options of `glot vocab train`; defaults in one place (Glot500 used vocab 250k, coverage 1.0)."""

    vocab_size: int = 32_000
    model_type: str = "unigram"
    character_coverage: float = 0.9995
    input_sentences: int = 1_000_000  # sentences drawn from the corpus and fed to SentencePiece
    alpha: float = DEFAULT_ALPHA
    seed: int = 0
    threads: int = 1
    max_sentence_length: int = 4192  # bytes; SentencePiece skips longer sentences
    head: list[str] | None = None  # Glot500 head/tail rule (see sampling.sampling_probabilities)
    max_epochs: float | None = None
    labels: list[str] | None = None
    model_max_length: int = 512
    spm_options: dict[str, str] = field(default_factory=dict)  # any other TrainerSpec field


def _spm_kwargs(cfg: VocabTrainConfig, n: int) -> dict:
    """TrainerSpec options. The id layout (<unk>=0, <s>=1, </s>=2, no pad) is the one transformers'
    XLM-R converter assumes (packages.md §5); `input_sentence_size=0` = use every fed sentence, since
    the sampler already drew exactly the cap."""
    kw = {
        "model_type": cfg.model_type,
        "vocab_size": cfg.vocab_size,
        "character_coverage": cfg.character_coverage,
        "num_threads": cfg.threads,
        "input_sentence_size": 0,
        "max_sentence_length": cfg.max_sentence_length,
        "unk_id": 0,
        "bos_id": 1,
        "eos_id": 2,
        "pad_id": -1,
        "minloglevel": 2,
    }
    if n > 10_000_000:
        kw["train_extremely_large_corpus"] = True
    kw.update(cfg.spm_options)
    return kw


class _Feed:
    """Sentence iterator for SentencePiece that also counts what it fed, per label."""

    def __init__(self, pairs: Iterator[tuple[str, str]]):
        self.pairs = pairs
        self.per_label: Counter[str] = Counter()
        self.sentences = 0
        self.chars = 0
        self.skipped_empty = 0

    def __iter__(self) -> Iterator[str]:
        for label, text in self.pairs:
            if not text or text.isspace():
                self.skipped_empty += 1
                continue
            self.per_label[label] += 1
            self.sentences += 1
            self.chars += len(text)
            yield text


def train_sentencepiece(pairs: Iterator[tuple[str, str]], cfg: VocabTrainConfig) -> tuple[bytes, _Feed]:
    """Train from (label, text) pairs; returns the serialized ModelProto and the feed counters."""
    import sentencepiece as spm

    spm.set_random_generator_seed(int(cfg.seed) & 0xFFFFFFFF)
    feed = _Feed(pairs)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(feed), model_writer=buf, **_spm_kwargs(cfg, cfg.input_sentences)
    )
    return buf.getvalue(), feed


def wrap_xlmr(model_dir: Path, model_max_length: int = 512) -> None:
    """Save an XLM-R tokenizer (tokenizer.json + config) next to `model_dir/sentencepiece.bpe.model`.

    Must go through `from_pretrained(dir)`: `XLMRobertaTokenizer(vocab_file=...)` silently builds a
    5-token tokenizer in transformers 5 (packages.md §6). save_pretrained does not copy the .model file,
    so it stays where it is, for later merges."""
    from transformers import XLMRobertaTokenizer

    for stale in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (Path(model_dir) / stale).unlink(missing_ok=True)  # else from_pretrained would load the old one
    tok = XLMRobertaTokenizer.from_pretrained(str(model_dir), model_max_length=model_max_length)
    tok.save_pretrained(str(model_dir))


def train_vocab(corpus_dir: str | Path, out_dir: str | Path, cfg: VocabTrainConfig | None = None) -> dict:
    """`glot vocab train`: α-sample `cfg.input_sentences` rows, stream them into SentencePiece, save.

    Returns (and writes to `out_dir/vocab_train.json`) what was done: options, sentences fed per label,
    pieces, seconds. Deterministic for (corpus, cfg): byte-identical models with 1 and 2 threads."""
    cfg = cfg or VocabTrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes = label_sizes(corpus_dir)
    if cfg.labels is not None:
        sizes = {k: v for k, v in sizes.items() if k in set(cfg.labels)}
    plan = sampling_plan(sizes, cfg.input_sentences, cfg.alpha, cfg.head, cfg.max_epochs)
    t0 = time.perf_counter()
    pairs = iter_sampled_texts(
        corpus_dir,
        cfg.input_sentences,
        alpha=cfg.alpha,
        seed=cfg.seed,
        labels=cfg.labels,
        head=cfg.head,
        max_epochs=cfg.max_epochs,
    )
    try:
        proto, feed = train_sentencepiece(pairs, cfg)
    except RuntimeError as e:  # SentencePiece reports bad options / too small data this way
        raise ValueError(f"SentencePiece training failed: {e}") from e
    seconds = time.perf_counter() - t0
    (out / SPM_FILE).write_bytes(proto)
    wrap_xlmr(out, cfg.model_max_length)
    import sentencepiece as spm

    pieces = spm.SentencePieceProcessor(model_proto=proto).get_piece_size()
    info = {
        "corpus": str(corpus_dir),
        "config": asdict(cfg),
        "pieces": pieces,
        "sentences": feed.sentences,
        "chars": feed.chars,
        "skipped_empty": feed.skipped_empty,
        "labels": len(feed.per_label),
        "seconds": round(seconds, 3),
        "plan": [
            {**row, "fed": feed.per_label.get(row["label"], 0)}
            for row in plan.select("label", "rows", "p", "draws", "epochs").to_dicts()
        ],
    }
    (out / TRAIN_INFO).write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return info


def read_head(spec: str) -> list[str]:
    """Head labels for the Glot500 head/tail rule: a set named in `heads.toml` (`xlmr`: XLM-R's 100
    languages) or a file with one label per line (`#` comments allowed)."""
    sets = tomllib.loads(Path(__file__).with_name("heads.toml").read_text(encoding="utf-8"))
    if spec in sets:
        return list(sets[spec]["labels"])
    p = Path(spec)
    if not p.is_file():
        raise FileNotFoundError(f"--head {spec!r}: neither a file nor one of {sorted(sets)}")
    lines = p.read_text(encoding="utf-8").splitlines()
    return [s.split("#", 1)[0].strip() for s in lines if s.split("#", 1)[0].strip()]

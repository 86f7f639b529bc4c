"""`glot vocab train|extend|report`: a thin face over glotforge.train.vocab / vocab_merge / fertility."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _fail(e: Exception) -> click.ClickException:
    return click.ClickException(str(e).splitlines()[0] if str(e) else type(e).__name__)


@click.group()
def vocab() -> None:
    """Train a SentencePiece model on the α-sampled corpus and extend an XLM-R tokenizer with it."""


@vocab.command("train")
@click.argument("corpus", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--vocab-size", default=32_000, show_default=True, type=int)
@click.option("--model-type", default="unigram", show_default=True, type=click.Choice(["unigram", "bpe"]))
@click.option("--character-coverage", default=0.9995, show_default=True, type=float)
@click.option(
    "--sentences",
    default=1_000_000,
    show_default=True,
    type=int,
    help="Sentences drawn from the corpus and fed to SentencePiece (the input cap; sets memory).",
)
@click.option("--alpha", default=0.3, show_default=True, type=float, help="Sampling exponent: p ∝ n^α.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=1, show_default=True, type=int, help="SentencePiece threads.")
@click.option("--head", default=None, help="Head labels (Glot500 head/tail rule): 'xlmr' or a file.")
@click.option("--max-epochs", default=None, type=float, help="Cap on passes over one label's rows.")
@click.option("--label", "labels", multiple=True, help="Use only these labels (repeatable).")
@click.option("--spm-option", "spm_options", multiple=True, help="Extra TrainerSpec option KEY=VALUE.")
def train_cmd(corpus, out, vocab_size, model_type, character_coverage, sentences, alpha, seed, threads,
              head, max_epochs, labels, spm_options) -> None:  # fmt: skip
    """Train a SentencePiece model on CORPUS (a build folder OUT or OUT/corpus) into OUT/sentencepiece.bpe.model."""
    from glotforge.train.vocab import VocabTrainConfig, read_head, train_vocab

    try:
        extra = dict(o.split("=", 1) for o in spm_options)
    except ValueError as e:
        raise click.ClickException("--spm-option takes KEY=VALUE") from e
    try:
        cfg = VocabTrainConfig(
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            input_sentences=sentences,
            alpha=alpha,
            seed=seed,
            threads=threads,
            head=read_head(head) if head else None,
            max_epochs=max_epochs,
            labels=list(labels) or None,
            spm_options=extra,
        )
        info = train_vocab(corpus, out, cfg)
    except (ValueError, FileNotFoundError, KeyError) as e:
        raise _fail(e) from e
    click.echo(
        f"trained {info['pieces']} pieces on {info['sentences']:,} sentences from {info['labels']} labels "
        f"in {info['seconds']:.1f} s → {Path(out) / 'sentencepiece.bpe.model'}"
    )


@vocab.command("extend")
@click.option(
    "--base",
    required=True,
    help="Base tokenizer: a local folder or a hub id (e.g. FacebookAI/xlm-roberta-base).",
)
@click.option(
    "--new", "new", required=True, type=click.Path(exists=True), help="Folder from `glot vocab train`."
)
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False))
@click.option(
    "--score-rule",
    default=None,
    type=click.Choice(["new", "aligned", "below", "zero", "protect"]),
    help="Scores of appended pieces: default 'protect' with --protect, else 'below'; 'new' = Glot500 "
    "(measured trade-off in docs/benchmarks.md).",
)
@click.option("--check", "check", default=None, type=click.Path(exists=True),
              help="Texts (build folder or Parquet with label,text) to compare slow, fast and SentencePiece ids on.")  # fmt: skip
@click.option("--protect", default=None, type=click.Path(exists=True),
              help="Text of base-covered languages (build folder or Parquet label,text) for --score-rule protect.")  # fmt: skip
@click.option("--head", default=None, help="Only these labels of --protect: 'xlmr' or a file of labels.")
@click.option("--margin", default=1.0, show_default=True, type=float, help="Gap below the worst base score.")
def extend_cmd(base, new, out, score_rule, check, protect, head, margin) -> None:
    """Append the new pieces to BASE's SentencePiece model; base ids stay, <mask> moves to the end."""
    from glotforge.train.fertility import texts_for_report
    from glotforge.train.vocab import read_head
    from glotforge.train.vocab_merge import check_tokenizer, extend_tokenizer

    score_rule = score_rule or ("protect" if protect else "below")
    if (score_rule == "protect") != (protect is not None):
        raise click.ClickException("--score-rule protect and --protect TEXTS go together")
    try:
        texts = None
        if protect:
            by_label, _ = texts_for_report(protect, per_label=2000)
            keep = set(read_head(head)) if head else set(by_label)
            texts = [t for k, ts in sorted(by_label.items()) if k in keep for t in ts]
            if not texts:
                raise click.ClickException("--protect: no text for the chosen labels")
        info = extend_tokenizer(base, new, out, score_rule, margin, protect_texts=texts)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise _fail(e) from e
    click.echo(
        f"added {info['added']:,} pieces ({info['already_in_base']:,} already in base, scores: {score_rule}): "
        f"{info['base_len']:,} → {info['len']:,} ids, <mask> {info['base_mask_id']} → {info['mask_id']} → {out}"
    )
    if check:
        texts, _ = texts_for_report(check, per_label=200)
        res = check_tokenizer(out, [t for ts in texts.values() for t in ts])
        click.echo(
            f"check on {res['lines']:,} lines: slow≠fast {res['slow_vs_fast']}, HF≠SentencePiece "
            f"{res['hf_vs_spm']}, round-trip failures {res['roundtrip_fail']}/{res['roundtrip_checked']}"
        )


@vocab.command("report")
@click.argument("texts", type=click.Path(exists=True))
@click.option("--extended", required=True, type=click.Path(exists=True, file_okay=False),
              help="Extended tokenizer folder (from `glot vocab extend`).")  # fmt: skip
@click.option(
    "--base", default=None, help="Base tokenizer folder (default: the one recorded in vocab_merge.json)."
)
@click.option("--per-label", default=1000, show_default=True, type=int, help="Lines per label to measure.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--json", "json_out", default=None, type=click.Path(dir_okay=False), help="Also write the JSON here."
)
@click.option("--limit", default=None, type=int, help="Rows of the printed table (all by default).")
def report_cmd(texts, extended, base, per_label, seed, json_out, limit) -> None:
    """Fertility, <unk> and character-fallback rates per label, before vs after extension.

    TEXTS: a build folder (OUT or OUT/corpus) or a Parquet file with label and text columns. Writes
    EXTENDED/fertility.json and, for a build folder, OUT/stats/vocab_report.json."""
    from glotforge.train.fertility import fertility_report, format_table, texts_for_report, write_report
    from glotforge.train.vocab_merge import MERGE_INFO, resolve_base

    try:
        if base is None:
            merge = Path(extended) / MERGE_INFO
            if not merge.is_file():
                raise click.ClickException(f"no {MERGE_INFO} in {extended}: pass --base")
            base = json.loads(merge.read_text(encoding="utf-8"))["base"]
        by_label, source = texts_for_report(texts, per_label, seed)
        rep = fertility_report(resolve_base(base), extended, by_label, source)
        paths = write_report(rep, extended, texts if Path(texts).is_dir() else None)
        if json_out:
            Path(json_out).write_text(json.dumps(rep, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            paths.append(Path(json_out))
    except (ValueError, FileNotFoundError, KeyError) as e:
        raise _fail(e) from e
    click.echo(format_table(rep, limit))
    click.echo("wrote " + ", ".join(str(p) for p in paths))

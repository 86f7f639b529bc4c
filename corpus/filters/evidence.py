"""The two evidence figures of the `script` + `quality` stages, as library functions.

1. Clean text: on UDHR (real translations, ~460 labels, 42 scripts) the default filters should
   reject at most 2 % of the units of every label with >= 50 units. Units that are not text at all,
   article numbers such as "12." or "IV" and letterless units (`quality:number_only`,
   `quality:no_letters`), are rejected by design; they are counted apart, not in the 2 %.
2. Junk: generated from the same labels (so in every script), each kind of junk a corpus meets
   (URLs, e-mail addresses, digits, symbols, repeated characters and words, boilerplate,
   one-character lines, overlong tokens, mixed-script and other-script lines) should be caught at
   least 95 % of the time.
Both run the stages exactly as a build does: `script` first, `quality` on the lines it kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from glotforge.corpus.filters.stage import QualityStage
from glotforge.corpus.scripts import ScriptStage, label_script

JUNK_KINDS = (
    "url", "email", "digits", "digits_in_text", "symbols", "char_repeat", "syllable_repeat",
    "word_repeat", "boilerplate", "one_char", "long_token", "mixed_script", "other_script",
)  # fmt: skip

_BOILERPLATE = (
    "We use cookies to give you the best experience on our website.",
    "© {year} {name} Media Group. All rights reserved.",
    "Subscribe to our newsletter and never miss an update!",
    "This website uses cookies. By continuing to browse you agree to our use of cookies.",
    "Diese Website verwendet Cookies, um Ihnen den bestmöglichen Service zu bieten.",
    "© {year} {name}. Tous droits réservés.",
    "Copyright © {year} {name}. Todos los derechos reservados.",
    "Все права защищены © {year}",
    "版权所有 © {year} {name}",
    "جميع الحقوق محفوظة © {year}",
    "Privacy Policy",
    "Click here to subscribe to our channel",
)


#: reasons that mark a unit as "not text" (a bare number or no letters at all)
NON_TEXT = ["quality:number_only", "quality:no_letters"]


def stage_frame(df: pl.DataFrame) -> pl.DataFrame:
    """A (label, text, ...) frame in the shape stages receive: + source, line, sentence."""
    return df.with_columns(
        pl.lit("evidence").alias("source"),
        pl.int_range(1, pl.len() + 1).over("label").cast(pl.Int64).alias("line"),
        pl.lit(0, pl.Int32).alias("sentence"),
    )


def run_filters(
    df: pl.DataFrame,
    script_config: dict[str, Any] | None = None,
    quality_config: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """`df` (label, text, any other columns) with `reason` and `detail` from script then quality."""
    script, quality = ScriptStage(script_config or {}), QualityStage(quality_config or {})
    frame = stage_frame(df).with_row_index("_order")
    parts = []
    for _, group in frame.group_by("label", maintain_order=True):
        a = script.apply(group)
        kept = a.filter(pl.col("reason").is_null()).drop("reason", "score", "detail")
        b = quality.apply(kept).select("_order", "reason", "detail") if kept.height else None
        done = a.filter(pl.col("reason").is_not_null()).select("_order", "reason", "detail")
        parts.extend([done] + ([b] if b is not None else []))
    verdicts = (
        pl.concat(parts)
        if parts
        else pl.DataFrame(schema={"_order": pl.UInt32, "reason": pl.Utf8, "detail": pl.Utf8})
    )
    return (
        frame.join(verdicts, on="_order", how="left")
        .sort("_order")
        .drop("_order", "source", "line", "sentence")
    )


def clean_report(results: pl.DataFrame, min_units: int = 50) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Per-label rejection of units with letters, for labels with >= `min_units` such units."""
    has_letter = ~pl.col("reason").fill_null("").is_in(NON_TEXT)
    per = (
        results.group_by("label")
        .agg(
            units=has_letter.sum(),
            rejected=(has_letter & pl.col("reason").is_not_null()).sum(),
            non_text=(~has_letter).sum(),
            top_reason=pl.col("reason").filter(has_letter).drop_nulls().mode().sort().first(),
        )
        .with_columns(rate=pl.col("rejected") / pl.col("units"))
        .sort(["rate", "label"], descending=[True, False])
    )
    judged = per.filter(pl.col("units") >= min_units)
    reasons = (
        results.filter(has_letter & pl.col("reason").is_not_null())
        .get_column("reason")
        .value_counts(sort=True)
    )
    summary = {
        "labels": per.height,
        "labels_judged": judged.height,
        "units_judged": int(judged["units"].sum()),
        "rejected_judged": int(judged["rejected"].sum()),
        "max_rate": float(judged["rate"].max() or 0.0),
        "labels_over_2pct": int((judged["rate"] > 0.02).sum()),
        "non_text_units": int(per["non_text"].sum()),
        "by_reason": dict(zip(reasons["reason"].to_list(), reasons["count"].to_list(), strict=True)),
    }
    return judged, summary


def _letters(texts: list[str]) -> list[str]:
    return sorted({c for t in texts for c in t if c.isalpha()})


def make_junk(df: pl.DataFrame, seed: int = 0, labels: int | None = None) -> pl.DataFrame:
    """Junk lines (label, text, kind) in the context of each label of `df` (label, text): one of
    every kind per label, built from that label's own letters and words so every script is covered."""
    rng = np.random.default_rng(seed)
    by_label = {k: v for (k,), v in df.group_by(["label"], maintain_order=True)}
    names = sorted(by_label)
    if labels is not None and labels < len(names):
        names = sorted(rng.choice(names, size=labels, replace=False).tolist())
    scripts = {n: label_script(n) for n in names}
    all_names = sorted(by_label)
    rows: list[tuple[str, str, str]] = []

    def pick(seq: list[Any]) -> Any:
        return seq[int(rng.integers(len(seq)))]

    def ascii_word(lo: int = 3, hi: int = 9) -> str:
        return "".join(chr(97 + int(x)) for x in rng.integers(0, 26, int(rng.integers(lo, hi))))

    for name in names:
        texts = [t for t in by_label[name]["text"].to_list() if len(t) >= 20] or by_label[name][
            "text"
        ].to_list()
        letters = _letters(texts) or ["a"]
        words = [w for t in texts for w in t.split() if any(c.isalpha() for c in w)] or letters
        sentence = pick(texts)
        foreign = [
            n for n in all_names if scripts.get(n, label_script(n)) != scripts[name] and label_script(n)
        ]
        other_texts = by_label[pick(foreign)]["text"].to_list() if foreign else ["Lorem ipsum dolor sit amet"]
        other = pick([t for t in other_texts if len(t) >= 20] or other_texts)
        n = int(rng.integers(100, 99999))
        junk = {
            "url": pick(
                [
                    f"https://www.{ascii_word()}.com/{ascii_word()}/{n}",
                    f"http://{ascii_word()}-{ascii_word()}.org/index.php?id={n}",
                    f"www.{ascii_word()}.net",
                    f"{ascii_word()}.com/{ascii_word()}?ref={n}",
                ]
            ),
            "email": pick(
                [f"{ascii_word()}.{ascii_word()}@{ascii_word()}.com", f"{ascii_word()}{n}@{ascii_word()}.org"]
            ),
            "digits": pick(
                [
                    f"{n} {n * 7 % 100000} {n * 13 % 100000}",
                    f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d} {n % 24:02d}:{n % 60:02d}",
                    f"+{n % 90 + 10} {n % 1000:03d} {n:05d} {n % 97:02d}",
                    f"{n:,}.{n % 100:02d}",
                ]
            ),
            "digits_in_text": f"{pick(words)[:12]} {n:05d} {n * 3 % 99999:05d} {n * 7 % 99999:05d} {n * 11 % 99999:05d}",
            "symbols": pick(
                [
                    "★★★★★",
                    "→ → → →",
                    "||||||||",
                    "*** *** ***",
                    "=-=-=-=-=-=",
                    "♥♥♥ ♥♥♥",
                    "...........",
                    "#####",
                ]
            ),
            "char_repeat": pick(letters) * int(rng.integers(8, 40)),
            "syllable_repeat": "".join(pick(letters) for _ in range(int(rng.integers(2, 4))))
            * int(rng.integers(6, 15)),
            "word_repeat": " ".join([pick(words)] * int(rng.integers(6, 14))),
            "boilerplate": pick(list(_BOILERPLATE)).format(year=1990 + n % 35, name=ascii_word().title()),
            "one_char": pick(letters),
            "long_token": f"{sentence[:40]} {''.join(chr(int(x)) for x in rng.choice([*range(48, 58), *range(65, 91), *range(97, 123)], 80))}",
            "mixed_script": sentence[:40] + " " + other[:40],
            "other_script": other,
        }
        rows.extend((name, text, kind) for kind, text in junk.items())
    return pl.DataFrame(rows, schema={"label": pl.Utf8, "text": pl.Utf8, "kind": pl.Utf8}, orient="row")


def junk_report(results: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Catch rate per junk kind and overall (`results` from `run_filters` on `make_junk` output)."""
    per = (
        results.group_by("kind")
        .agg(
            lines=pl.len(),
            caught=pl.col("reason").is_not_null().sum(),
            top_reason=pl.col("reason").drop_nulls().mode().sort().first(),
        )
        .with_columns(rate=pl.col("caught") / pl.col("lines"))
        .sort("kind")
    )
    summary = {
        "lines": results.height,
        "caught": int(results["reason"].is_not_null().sum()),
        "rate": float(results["reason"].is_not_null().mean() or 0.0),
    }
    return per, summary


def evidence(
    df: pl.DataFrame, min_units: int = 50, seed: int = 0, worst: int = 10
) -> tuple[dict[str, Any], str]:
    """Both figures for a (label, text) frame: (JSON-able summary, printable report)."""
    clean = run_filters(df.select("label", "text"))
    judged, clean_summary = clean_report(clean, min_units=min_units)
    junk = make_junk(df.select("label", "text"), seed=seed)
    per_kind, junk_summary = junk_report(run_filters(junk))
    # the same junk with the script stage annotating only: what the quality filters catch on their own
    alone, alone_summary = junk_report(run_filters(junk, script_config={"reject": False}))
    per_kind = per_kind.join(alone.select("kind", quality_alone=pl.col("rate")), on="kind", how="left")
    junk_summary["quality_alone_rate"] = alone_summary["rate"]
    lines = [
        f"clean text: {clean_summary['labels_judged']} labels with >= {min_units} text units, "
        f"{clean_summary['units_judged']} units; rejected {clean_summary['rejected_judged']} "
        f"({clean_summary['rejected_judged'] / max(clean_summary['units_judged'], 1):.3%}); "
        f"worst label {clean_summary['max_rate']:.2%}; labels over 2%: {clean_summary['labels_over_2pct']}",
        f"  not text (bare numbers, no letters), rejected by design and not counted: {clean_summary['non_text_units']}",
        f"  rejections by reason: {clean_summary['by_reason']}",
        f"  worst {worst} labels:",
    ]
    for row in judged.head(worst).iter_rows(named=True):
        lines.append(
            f"    {row['label']:<10} {row['rejected']:>3}/{row['units']:<4} {row['rate']:6.2%}  {row['top_reason'] or ''}"
        )
    lines.append(
        f"junk: {junk_summary['lines']} generated lines ({len(JUNK_KINDS)} kinds x {junk['label'].n_unique()} labels); "
        f"caught {junk_summary['caught']} ({junk_summary['rate']:.2%}); "
        f"by the quality stage alone: {junk_summary['quality_alone_rate']:.2%}"
    )
    lines.append(f"    {'kind':<16} {'caught':>7} {'quality':>8}  most frequent reason")
    for row in per_kind.iter_rows(named=True):
        lines.append(
            f"    {row['kind']:<16} {row['rate']:7.2%} {row['quality_alone']:8.2%}  {row['top_reason'] or ''}"
        )
    summary = {
        "clean": clean_summary,
        "worst": judged.head(worst).to_dicts(),
        "junk": junk_summary,
        "junk_by_kind": per_kind.to_dicts(),
    }
    return summary, "\n".join(lines)

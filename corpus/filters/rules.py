"""The quality rules as a table: which feature, which direction, which recipe key, which reason code.

A rule is data, not a function: `evaluate` turns the whole table into one polars `when/then` chain
over a batch's features, so that adding a rule is one row here plus one default. The first failing
rule (in table order: the most specific evidence first) names the reason.

`DEFAULTS` are the stage's built-in values; `pipelines/recipes/default.toml` repeats them with a note
on where each one comes from (ROOTS `parameters_filtering.py`, re-tuned for sentence-level units).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class Rule:
    """One check: `feature` compared with the recipe value `key`; fails -> reason `quality:<name>`.

    kind: "flag" (the boolean feature is true and `key` is true), "min" (value < threshold) or
    "max" (value > threshold, as ROOTS keeps ratio <= cutoff). A threshold of false/None switches
    the rule off.
    """

    name: str
    feature: str
    kind: str
    key: str


RULES: tuple[Rule, ...] = (
    Rule("email_only", "email_only", "flag", "reject_email_only"),
    Rule("url_only", "url_only", "flag", "reject_url_only"),
    Rule("number_only", "number_only", "flag", "reject_number_only"),
    Rule("no_letters", "no_letters", "flag", "reject_no_letters"),
    Rule("boilerplate", "boilerplate", "flag", "reject_boilerplate"),
    Rule("min_chars", "n_chars", "min", "min_chars"),
    Rule("min_words", "n_words", "min", "min_words"),
    Rule("max_chars", "n_chars", "max", "max_chars"),
    Rule("max_words", "n_words", "max", "max_words"),
    Rule("long_word", "longest_word", "max", "max_word_chars"),
    Rule("char_run", "char_run", "max", "max_char_run"),
    Rule("char_repetition", "char_repetition", "max", "max_char_repetition"),
    Rule("word_repetition", "word_repetition", "max", "max_word_repetition"),
    Rule("digits", "digit_ratio", "max", "max_digit_ratio"),
    Rule("punctuation", "punct_ratio", "max", "max_punct_ratio"),
    Rule("special_chars", "special_ratio", "max", "max_special_ratio"),
)
RULE_BY_NAME = {rule.name: rule for rule in RULES}
NUMERIC_RULES = tuple(rule for rule in RULES if rule.kind != "flag")

#: built-in defaults (the recipe documents each one's origin); see default.toml [quality]
DEFAULTS: dict[str, Any] = {
    "thresholds": "fixed",
    "reject_email_only": True,
    "reject_url_only": True,
    "reject_number_only": True,
    "reject_no_letters": True,
    "reject_boilerplate": True,
    "boilerplate_file": "",
    "min_chars": 2,
    "min_words": 1,
    "max_chars": 20000,
    "max_words": 4000,
    "max_word_chars": 60,
    "max_char_run": 7,
    "char_repetition_n": 10,
    "max_char_repetition": 0.25,
    "word_repetition_n": 5,
    "max_word_repetition": 0.30,
    "ratio_slack_chars": 4,
    "max_special_ratio": 0.45,
    "max_digit_ratio": 0.25,
    "max_punct_ratio": 0.30,
    "auto_min_lines": 200,
    "auto_sample": 500_000,
    "auto_fence": 3.0,
    "auto_bounds": {},
}


def thresholds_of(settings: dict[str, Any]) -> dict[str, Any]:
    """The rule keys of a layered settings dict (what a report lists as "the thresholds")."""
    return {rule.key: settings.get(rule.key) for rule in RULES}


def _off(value: Any) -> bool:
    return value is None or value is False or value == ""


def evaluate(features: pl.DataFrame, thresholds: dict[str, Any]) -> pl.DataFrame:
    """Columns reason (Utf8, null = keep), score (Float64) and detail (Utf8) for every feature row."""
    reason: Any = None
    score: Any = None
    detail: Any = None
    for rule in reversed(RULES):  # build the chain inside-out so the first rule wins
        limit = thresholds.get(rule.key)
        if _off(limit):
            continue
        value = pl.col(rule.feature)
        if rule.kind == "flag":
            failed = value
            sc = pl.lit(1.0)
            dt = pl.lit(rule.name)
        else:
            failed = value < limit if rule.kind == "min" else value > limit
            sc = value.cast(pl.Float64)
            op = "<" if rule.kind == "min" else ">"
            dt = pl.format("{} {} {}", value.round(4), pl.lit(op), pl.lit(str(limit)))
        code = pl.lit(f"quality:{rule.name}")
        if reason is None:
            reason = pl.when(failed).then(code)
            score = pl.when(failed).then(sc)
            detail = pl.when(failed).then(dt)
        else:
            reason = pl.when(failed).then(code).otherwise(reason)
            score = pl.when(failed).then(sc).otherwise(score)
            detail = pl.when(failed).then(dt).otherwise(detail)
    if reason is None:
        return pl.DataFrame(
            {
                "reason": [None] * features.height,
                "score": [None] * features.height,
                "detail": [None] * features.height,
            },
            schema={"reason": pl.Utf8, "score": pl.Float64, "detail": pl.Utf8},
        )
    return features.select(
        reason.cast(pl.Utf8).alias("reason"),
        score.cast(pl.Float64).alias("score"),
        detail.cast(pl.Utf8).alias("detail"),
    )

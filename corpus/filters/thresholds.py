"""Per-language thresholds from the language's own data (`thresholds = "auto"`).

Why: one cutoff cannot fit 2,000 languages. Average word length differs threefold between
isolating and polysynthetic languages, digit and punctuation shares depend on the script, and
repetition depends on morphology. So each numeric rule's cutoff is a robust outlier fence on the
label's own distribution, `Q3 + fence * IQR` for upper limits and `Q1 - fence * IQR` for lower ones
(Tukey's fence: insensitive to the junk it is meant to find, as long as junk is a minority), then
clamped to [floor, ceiling] so that a label made mostly of junk cannot vote itself clean.
Labels with fewer than `auto_min_lines` measurable lines keep their script's (layered) defaults.
Lines caught by a flag rule (no letters, URL only, ...) are left out of the distributions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from glotforge.corpus.filters.rules import NUMERIC_RULES, RULES

#: [floor, ceiling] of each automatic cutoff, unless `auto_bounds.<key>` in the recipe says otherwise.
#: Length, run and repetition floors equal the fixed defaults: on clean text those distributions sit
#: near zero (IQR 0), so a fence would say "reject any repetition at all"; auto may only loosen them
#: for languages that need it (long agglutinative words, reduplication). Ratio floors are lower, so a
#: script whose clean text has few digits or punctuation gets a tighter cutoff. Ceilings keep auto
#: from accepting what is junk in any language.
AUTO_BOUNDS: dict[str, tuple[float, float]] = {
    "min_chars": (2, 10),
    "min_words": (1, 3),
    "max_chars": (20000, 100000),
    "max_words": (4000, 20000),
    "max_word_chars": (60, 150),
    "max_char_run": (7, 12),
    "max_char_repetition": (0.25, 0.50),
    "max_word_repetition": (0.30, 0.60),
    "max_special_ratio": (0.35, 0.70),
    "max_digit_ratio": (0.15, 0.50),
    "max_punct_ratio": (0.15, 0.45),
}


def _measurable(features: pl.DataFrame) -> pl.DataFrame:
    flags = [rule.feature for rule in RULES if rule.kind == "flag" and rule.feature in features.columns]
    if not flags:
        return features
    return features.filter(~pl.any_horizontal([pl.col(f) for f in flags]))


def auto_thresholds(
    features: pl.DataFrame, settings: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(threshold per rule key, how each was chosen: "auto", "default" or "off") for one label."""
    data = _measurable(features)
    fence = float(settings.get("auto_fence", 3.0))
    enough = data.height >= int(settings.get("auto_min_lines", 200))
    bounds = {**AUTO_BOUNDS, **{k: tuple(v) for k, v in (settings.get("auto_bounds") or {}).items()}}
    chosen: dict[str, Any] = {rule.key: settings.get(rule.key) for rule in RULES}
    origin: dict[str, str] = {}
    for rule in RULES:
        value = settings.get(rule.key)
        if value is None or value is False or value == "":
            origin[rule.key] = "off"
        elif rule.kind == "flag":
            origin[rule.key] = "on"
        elif rule in NUMERIC_RULES and enough and rule.key in bounds:
            col = data.get_column(rule.feature).cast(pl.Float64).to_numpy()
            q1, q3 = np.quantile(col, [0.25, 0.75])
            raw = q3 + fence * (q3 - q1) if rule.kind == "max" else q1 - fence * (q3 - q1)
            lo, hi = bounds[rule.key]
            cut = float(min(max(raw, lo), hi))
            if isinstance(value, bool) or not isinstance(value, int):
                chosen[rule.key] = round(cut, 4)
            else:  # whole-number limits stay whole, rounded towards keeping
                chosen[rule.key] = int(np.ceil(cut)) if rule.kind == "max" else int(np.floor(cut))
            origin[rule.key] = "auto"
        else:
            origin[rule.key] = "default"
    return chosen, origin

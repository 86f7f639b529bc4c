"""The `quality` stage: script-aware ROOTS-style line filters with one reason code per rule.

Scope depends on the recipe: with fixed thresholds (the default) it is a line stage that needs
nothing but the batch in hand; with `thresholds = "auto"` a label's cutoffs depend on the label's
whole distribution, so it becomes a label stage (`decide`) that measures every line first and then
judges them against the cutoffs it derived (see `thresholds`). Both paths share `features.compute`
and `rules.evaluate`, so a line gets the same verdict from both when the thresholds agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from glotforge.corpus.filters import features as feats
from glotforge.corpus.filters.rules import DEFAULTS, evaluate, thresholds_of
from glotforge.corpus.filters.thresholds import auto_thresholds
from glotforge.corpus.schema import empty_decisions
from glotforge.corpus.scripts import label_script, layered_config, script_data

#: numeric feature columns kept per line between the two passes of auto mode
_KEEP = [c for c in feats.FEATURES]


@lru_cache(maxsize=8)
def load_boilerplate(path: str = "") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(substring phrases, whole-line phrases) from the bundled list or `path`; lower-cased."""
    if path:
        text = Path(path).read_text("utf-8")
    else:
        text = resources.files("glotforge.corpus.filters").joinpath("boilerplate.txt").read_text("utf-8")
    contains: list[str] = []
    whole: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("= "):
            whole.append(line[2:].strip().lower())
        else:
            contains.append(line.lower())
    return tuple(contains), tuple(whole)


class QualityStage:
    """Stage `quality` (reasons `quality:<rule>`, see `rules.RULES`); recipe table `[quality]`."""

    name = "quality"
    annotations: dict[str, pl.DataType] = {}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = {**DEFAULTS, **(config or {})}
        self.scope = "label" if self.config.get("thresholds") == "auto" else "line"

    def settings(self, label: str | None) -> dict[str, Any]:
        """Defaults < recipe < `by_script.<Scrp>` < `by_label.<label>`."""
        return layered_config(self.config, label)

    def params(self, label: str | None, settings: dict[str, Any]) -> feats.FeatureParams:
        script = label_script(label)
        per_word = script_data()["nonspacing"]
        contains, whole = load_boilerplate(str(settings.get("boilerplate_file") or ""))
        return feats.FeatureParams(
            char_repetition_n=int(settings["char_repetition_n"]),
            word_repetition_n=int(settings["word_repetition_n"]),
            ratio_slack_chars=int(settings["ratio_slack_chars"]),
            nonspacing_label=script in per_word,
            chars_per_word=float(per_word.get(script, 1.0)),
            boilerplate=contains if settings.get("reject_boilerplate") else (),
            boilerplate_lines=whole if settings.get("reject_boilerplate") else (),
        )

    def thresholds(self, label: str | None) -> dict[str, Any]:
        """The fixed thresholds that apply to `label` (what the line scope uses)."""
        return thresholds_of(self.settings(label))

    def describe(self, label: str) -> dict[str, Any]:
        """What the runner writes to OUT/stats/quality.json for a label in fixed-threshold mode."""
        return {"mode": "recipe", "thresholds": self.thresholds(label)}

    def measure(self, df: pl.DataFrame) -> pl.DataFrame:
        """All features of a batch of one label (for reports and threshold studies)."""
        label = df.get_column("label")[0] if df.height and "label" in df.columns else None
        settings = self.settings(label)
        return feats.compute(df, self.params(label, settings))

    def apply(self, df: pl.DataFrame) -> pl.DataFrame:
        label = df.get_column("label")[0] if df.height else None
        verdict = evaluate(self.measure(df), self.thresholds(label))
        return df.with_columns(verdict)

    def decide(
        self, label: str, batches: Callable[[list[str]], Iterator[pl.DataFrame]]
    ) -> tuple[pl.DataFrame, dict[str, Any]]:
        """Label scope (`thresholds = "auto"`): derive this label's cutoffs, then judge its lines.

        Memory stays bounded for any label size: features of at most `auto_sample` lines are kept
        (every line while the label is small, else every 2^k-th line by canonical row number, which
        is deterministic). Small labels are judged on the kept features in one pass; large ones in
        a second pass that measures each batch again against the cutoffs.
        """
        settings = self.settings(label)
        params = self.params(label, settings)
        cap = max(int(settings.get("auto_sample", 500_000)), 1)
        stride, kept, lines = 1, [], 0
        for batch in batches(["text"]):
            measured = self._measured(batch, params)
            lines += measured.height
            if stride > 1:
                measured = measured.filter(pl.col("row") % stride == 0)
            kept.append(measured)
            while sum(k.height for k in kept) > cap:
                stride *= 2
                kept = [k.filter(pl.col("row") % stride == 0) for k in kept]
        sample = pl.concat(kept) if kept else None
        if sample is not None and sample.height:
            chosen, origin = auto_thresholds(sample, settings)
        else:
            chosen, origin = thresholds_of(settings), {}
        if stride == 1:
            parts = [self._rejections(sample, chosen)] if sample is not None else []
        else:
            parts = [self._rejections(self._measured(b, params), chosen) for b in batches(["text"])]
        rejected = pl.concat(parts) if parts else empty_decisions()
        counts = rejected.group_by("reason").len().sort("reason")
        report = {
            "lines": lines,
            "rejected": rejected.height,
            "rejected_by_reason": dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True)),
            "thresholds": chosen,
            "threshold_origin": origin,
            "threshold_sample": {"lines": 0 if sample is None else sample.height, "every": stride},
        }
        return rejected, report

    @staticmethod
    def _measured(batch: pl.DataFrame, params: feats.FeatureParams) -> pl.DataFrame:
        measured = feats.compute(batch, params).select(_KEEP)
        return measured.with_columns(batch.get_column("row").cast(pl.UInt64).alias("row"))

    @staticmethod
    def _rejections(measured: pl.DataFrame, chosen: dict[str, Any]) -> pl.DataFrame:
        if measured.height == 0:
            return empty_decisions()
        return (
            pl.concat([measured.select("row"), evaluate(measured, chosen)], how="horizontal")
            .filter(pl.col("reason").is_not_null())
            .select(
                pl.col("row").cast(pl.UInt64),
                pl.col("reason"),
                pl.col("score"),
                pl.lit(None, pl.Utf8).alias("ref_source"),
                pl.lit(None, pl.Int64).alias("ref_line"),
                pl.col("detail"),
            )
        )

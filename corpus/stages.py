"""The stage registry: every stage a recipe can name, where it lives and what it does.

Stages are looked up lazily by import path so that listing them (`glot stages`) or running a build
that does not use an expensive stage never imports its dependencies.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageInfo:
    name: str
    target: str  # "module:Class"
    summary: str

    def load(self) -> type:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


REGISTRY: dict[str, StageInfo] = {
    info.name: info
    for info in [
        StageInfo("script", "glotforge.corpus.scripts:ScriptStage",
                  "Unicode script of every line; rejects lines whose script is not the label's (script:mismatch, script:mixed)."),
        StageInfo("quality", "glotforge.corpus.filters.stage:QualityStage",
                  "Script-aware ROOTS-style quality filters: length, repetition, special characters, URLs, boilerplate."),
        StageInfo("langid", "glotforge.corpus.langid:LangIdStage",
                  "fastText language identification (GlotLID, OpenLID, lid.176 or our own); rejects confident mismatches."),
        StageInfo("dedup", "glotforge.corpus.dedup.stage:DedupStage",
                  "Exact (xxhash of a normalised key) and MinHash-LSH near-duplicate removal within each label."),
    ]
}


def build_stage(name: str, config: dict[str, Any]) -> Any:
    """Instantiate the stage called `name` from its recipe table."""
    try:
        info = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown stage {name!r} (known: {known})") from None
    return info.load()(config)

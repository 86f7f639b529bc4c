"""The `[dedup]` recipe table as a typed config, with defaults in one place.

Defaults were chosen on the labelled duplicate set of `bench/dedup_quality.py` (UDHR, one edit per
near copy: punctuation, one character, casing, a trailing number) and are explained in
`pipelines/recipes/default.toml`. Per-script and per-label overrides use the usual layering
(`[dedup.by_script.Thai]`, `[dedup.by_label.xxx_Scrp]`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from glotforge.corpus.dedup.normalize import KeyOptions
from glotforge.corpus.dedup.shingles import separates_words
from glotforge.corpus.scripts import label_script, layered_config


@dataclass(frozen=True)
class DedupConfig:
    exact: bool = True  # exact dedup on normalised keys
    near: bool = True  # MinHash-LSH near dedup after exact
    hash_bits: int = 128  # xxh3 width of exact keys (64 or 128)
    nfkc: bool = True
    casefold: bool = True
    strip_punct: bool = True
    strip_digits: bool = False  # exact key only; "Article 1" and "Article 2" are different lines
    threshold: float = 0.6  # Jaccard similarity at and above which a line is a near duplicate
    num_perm: int = 128
    recall_weight: float = 0.8  # LSH optimiser's false-negative weight (candidates are verified anyway)
    shingle: str = "auto"  # auto (from the label's script) | word | char
    word_ngram: int = 2
    char_ngram: int = 5
    min_chars: int = 30  # near keys shorter than this are only deduplicated exactly
    max_partners: int = 16  # LSH bucket fan-out per line (see lsh.py)
    signature_memory_mb: int = 1024  # above this, signatures are recomputed for candidates only
    seed: int = 1
    report_clusters: int = 10  # largest clusters listed per label in stats/dedup.json
    shard_min_lines: int = 20_000_000  # labels this large are deduplicated in rounds of tasks (0: never)
    slice_lines: int = 2_000_000  # rows per slice of such a label (whole map shards)

    @classmethod
    def for_label(cls, config: dict[str, Any] | None, label: str | None) -> DedupConfig:
        """Config of one label: defaults < `by_script.<Scrp>` < `by_label.<label>`; unknown keys fail."""
        table = layered_config(dict(config or {}), label)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"[dedup] unknown key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        cfg = cls(**table)
        cfg.check()
        return cfg

    def check(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"dedup.threshold must be in (0, 1), not {self.threshold}")
        if self.shingle not in ("auto", "word", "char"):
            raise ValueError(f"dedup.shingle must be auto, word or char, not {self.shingle!r}")
        if self.word_ngram < 1 or self.char_ngram < 1 or self.word_ngram > 64 or self.char_ngram > 64:
            raise ValueError("dedup.word_ngram and dedup.char_ngram must be in 1..64")
        if not 0.0 < self.recall_weight < 1.0:
            raise ValueError(f"dedup.recall_weight must be in (0, 1), not {self.recall_weight}")
        if self.shard_min_lines < 0 or self.slice_lines < 1:
            raise ValueError("dedup.shard_min_lines must be >= 0 and dedup.slice_lines >= 1")
        if self.hash_bits not in (64, 128):
            raise ValueError(f"dedup.hash_bits must be 64 or 128, not {self.hash_bits}")

    def exact_key(self) -> KeyOptions:
        return KeyOptions(self.nfkc, self.casefold, self.strip_punct, self.strip_digits)

    def near_key(self) -> KeyOptions:
        """Near keys always split on punctuation (word boundaries); digits are kept as tokens."""
        return KeyOptions(self.nfkc, self.casefold, True, False)

    def word_mode(self, label: str | None) -> bool:
        if self.shingle != "auto":
            return self.shingle == "word"
        return separates_words(label_script(label))

    def shingle_name(self, label: str | None) -> str:
        return f"word{self.word_ngram}" if self.word_mode(label) else f"char{self.char_ngram}"

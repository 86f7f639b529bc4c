"""Unicode script identification per line, and the `script` stage.

Every line gets the dominant ISO 15924 script of its letters, marks and script symbols (Common,
Inherited and Unknown characters, digits and punctuation say nothing and are ignored), the share of
those characters it covers, and the runner-up script. Lines are counted in batches with one numpy
lookup table (see `script_table`), which is what makes this fast enough to run on every line.

Composite scripts are resolved per line before the argmax, so that Japanese (kanji + kana) and
Korean with hanja are one writing system, not two that split the vote:
- any kana in a line -> Han + Hiragana + Katakana count together as `Jpan`;
- Hangul together with Han -> `Kore`;
- other Han -> `Hans` when the line has at least 2 more Simplified-only than Traditional-only
  characters, `Hant` for the reverse, else `Hani` (variant sets from ICU/Unihan, not guesses).
Which detected scripts satisfy which label script is data (`data/scripts.toml`, `[accepts]`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import polars as pl

from glotforge.corpus.script_table import load_table

HAN_PARTS = ("Hani", "Hans", "Hant")
#: a Han line is Hans (Hant) only with at least this many more Simplified-only (Traditional-only)
#: characters than the other kind: one character is weak evidence (乾 in 乾隆 is "Traditional" to
#: ICU but normal in Simplified text), and a wrong call would reject the line as script:mismatch
HAN_VARIANT_MARGIN = 2
KANA_PARTS = ("Hira", "Kana")
#: rows are counted this many at a time to bound the count matrix
CHUNK_ROWS = 20000


@lru_cache(maxsize=1)
def script_data() -> dict[str, Any]:
    """`data/scripts.toml`: composite acceptance, unchecked label scripts, non-spacing scripts."""
    text = resources.files("glotforge.corpus").joinpath("data", "scripts.toml").read_text("utf-8")
    return tomllib.loads(text)


def known_scripts() -> frozenset[str]:
    """Every script code a line can be detected as (table scripts plus the composites)."""
    return frozenset(load_table()[1][1:]) | {"Jpan", "Kore"}


def label_script(label: str | None) -> str | None:
    """The script part of an `xxx_Scrp` label, or None when the label carries no script."""
    if not label or "_" not in label:
        return None
    tail = label.rsplit("_", 1)[1]
    return tail if len(tail) == 4 and tail[0].isupper() and tail[1:].islower() else None


def accepts(expected: str, detected: str | None, han_variants: bool = True) -> bool:
    """Whether a line detected as `detected` fits a label of script `expected`.

    With `han_variants=False` Simplified and Traditional Han are not told apart.
    """
    if detected is None or detected == expected:
        return True
    ok = script_data()["accepts"].get(expected, [expected])
    if detected in ok:
        return True
    if not han_variants and expected in HAN_PARTS and detected in HAN_PARTS:
        return True
    return False


def layered_config(config: dict[str, Any], label: str | None) -> dict[str, Any]:
    """A stage table with its overrides applied: defaults < `by_script.<Scrp>` < `by_label.<label>`."""
    out = {k: v for k, v in config.items() if k not in ("by_script", "by_label")}
    script = label_script(label)
    if script:
        out.update(config.get("by_script", {}).get(script, {}))
    if label:
        out.update(config.get("by_label", {}).get(label, {}))
    return out


def _codepoints(texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(script ids of all codepoints of the batch, concatenated; length of every line)."""
    clean = [t or "" for t in texts]
    lengths = np.fromiter(map(len, clean), dtype=np.int64, count=len(clean))
    cps = np.frombuffer("".join(clean).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    table, _ = load_table()
    return table[cps], lengths


def script_counts(texts: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    """Per-line counts of countable characters by script: (int64 matrix n x k, script code per column).

    Only scripts present in the batch get a column, so the matrix stays small for any number of scripts.
    """
    ids, lengths = _codepoints(texts)
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    keep = ids != 0
    ids, rows = ids[keep], rows[keep]
    present = np.flatnonzero(np.bincount(ids, minlength=256))
    lut = np.zeros(256, dtype=np.int64)
    lut[present] = np.arange(len(present))
    k = max(len(present), 1)
    counts = np.bincount(rows * k + lut[ids], minlength=len(lengths) * k).reshape(len(lengths), k)
    names = load_table()[1]
    return counts, [names[i] for i in present]


def _resolve(counts: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Composite-aware dominant script, its share and the second script for each row of `counts`."""
    n = counts.shape[0]
    col = {name: i for i, name in enumerate(names)}

    def total(parts: Iterable[str]) -> np.ndarray:
        idx = [col[p] for p in parts if p in col]
        return counts[:, idx].sum(axis=1) if idx else np.zeros(n, dtype=np.int64)

    han, kana, hang = total(HAN_PARTS), total(KANA_PARTS), total(["Hang"])
    simp, trad = total(["Hans"]), total(["Hant"])
    jpan = kana > 0
    kore = ~jpan & (hang > 0) & (han > 0)
    plain_han = ~jpan & ~kore & (han > 0)
    grouped = counts.copy()
    absorbed = [col[p] for p in HAN_PARTS if p in col]
    grouped[:, absorbed] = 0
    for p in KANA_PARTS:
        if p in col:
            grouped[jpan, col[p]] = 0
    if "Hang" in col:
        grouped[kore, col["Hang"]] = 0
    extra = np.stack(
        [np.where(jpan, kana + han, 0), np.where(kore, hang + han, 0), np.where(plain_han, han, 0)], axis=1
    )
    grouped = np.concatenate([grouped, extra], axis=1)
    margin = HAN_VARIANT_MARGIN
    han_name = np.where(simp >= trad + margin, "Hans", np.where(trad >= simp + margin, "Hant", "Hani"))
    han_name = han_name.astype(object)
    labels = np.array([*names, "Jpan", "Kore", ""], dtype=object)
    han_col = grouped.shape[1] - 1

    all_chars = grouped.sum(axis=1)
    top = grouped.argmax(axis=1)
    top_count = grouped[np.arange(n), top]
    masked = grouped.copy()
    masked[np.arange(n), top] = -1
    second = masked.argmax(axis=1)
    second_count = masked[np.arange(n), second]

    def named(idx: np.ndarray, present: np.ndarray) -> np.ndarray:
        out = labels[idx]
        out = np.where(idx == han_col, han_name, out)
        return np.where(present, out, None)

    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(all_chars > 0, top_count / np.maximum(all_chars, 1), np.nan)
    return named(top, all_chars > 0), share, named(second, second_count > 0)


def identify(texts: Sequence[str | None]) -> tuple[list[str | None], np.ndarray, list[str | None]]:
    """(dominant script, share of countable characters, second script) for each text; None = no letters."""
    scripts: list[str | None] = []
    seconds: list[str | None] = []
    shares = []
    for start in range(0, len(texts), CHUNK_ROWS):
        chunk = texts[start : start + CHUNK_ROWS]
        top, share, second = _resolve(*script_counts(chunk))
        scripts.extend(top.tolist())
        seconds.extend(second.tolist())
        shares.append(share)
    share = np.concatenate(shares) if shares else np.zeros(0)
    return scripts, share, seconds


def dominant_script(texts: list[str]) -> str | None:
    """The dominant script over all letters/marks of `texts` taken together (composite-aware).

    Used to give a script to sources whose label has none. Han text is `Hans`/`Hant` only when the
    variant-specific characters lean clearly (3:1) one way, else `Hani`.
    """
    counts, names = script_counts(texts)
    pooled = counts.sum(axis=0, keepdims=True)
    top, _, _ = _resolve(pooled, names)
    result = top[0]
    if result in ("Hans", "Hant"):
        simp = int(pooled[0, names.index("Hans")]) if "Hans" in names else 0
        trad = int(pooled[0, names.index("Hant")]) if "Hant" in names else 0
        if max(simp, trad) < 3 * min(simp, trad) or max(simp, trad) < 5:
            result = "Hani"
    return result


class ScriptStage:
    """Line stage `script`: annotate every line's script; reject lines not in the label's script.

    Reasons: `script:mismatch` (the dominant script is not one the label's script accepts),
    `script:mixed` (it is, but covers less than `min_share` of the counted characters). Lines without
    any letter are kept here (the quality stage owns `quality:no_letters`). Config keys (recipe table
    `[script]`, with `by_script` / `by_label` overrides): `min_share`, `han_variants`, `reject`.
    """

    name = "script"
    scope = "line"
    annotations: dict[str, pl.DataType] = {"script": pl.Utf8, "script_share": pl.Float32, "script2": pl.Utf8}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})

    def settings(self, label: str | None) -> dict[str, Any]:
        base = {"min_share": 0.7, "han_variants": True, "reject": True}
        return {**base, **layered_config(self.config, label)}

    def apply(self, df: pl.DataFrame) -> pl.DataFrame:
        texts = df.get_column("text").to_list()
        scripts, share, seconds = identify(texts)
        label = df.get_column("label")[0] if df.height else None
        expected = label_script(label)
        cfg = self.settings(label)
        unchecked = set(script_data()["unchecked"])
        reason: list[str | None] = [None] * df.height
        if cfg["reject"] and expected and expected not in unchecked:
            variants = bool(cfg["han_variants"])
            min_share = float(cfg["min_share"])
            fits = {s: accepts(expected, s, variants) for s in set(scripts)}
            for i, s in enumerate(scripts):
                if s is None:
                    continue
                if not fits[s]:
                    reason[i] = "script:mismatch"
                elif share[i] < min_share:
                    reason[i] = "script:mixed"
        detail = [
            None if r is None else f"{s} {sh:.2f}" + (f" {s2}" if s2 else "")
            for r, s, sh, s2 in zip(reason, scripts, share.tolist(), seconds, strict=True)
        ]
        return df.with_columns(
            pl.Series("script", scripts, dtype=pl.Utf8),
            pl.Series("script_share", share, dtype=pl.Float32).fill_nan(None),
            pl.Series("script2", seconds, dtype=pl.Utf8),
            pl.Series("reason", reason, dtype=pl.Utf8),
            pl.Series(
                "score",
                [None if r is None else float(v) for r, v in zip(reason, share.tolist(), strict=True)],
                dtype=pl.Float64,
            ),
            pl.Series("detail", detail, dtype=pl.Utf8),
        )

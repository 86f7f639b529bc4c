"""Per-line quality features of a whole batch, computed column-wise.

One pass encodes the batch as UTF-32 and looks every code point up in small tables (character
class, script, lower-case form); counts per line are then `bincount`s, and runs/tokens are found
with array arithmetic. polars handles what regexes do best (URLs, e-mail addresses, boilerplate
phrases). No Python code runs per line.

Script awareness comes from data (`data/scripts.toml`, `[nonspacing]`): letters of scripts that do
not put spaces between words count as 1/chars_per_word of a word each, and they split "words" for
the overlong-word measure, so a Thai or Chinese sentence is never one enormous word, while a URL
glued into it still is. Word repetition switches to character n-grams of the same span for labels of
such scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from glotforge.corpus.filters import ngrams
from glotforge.corpus.script_table import load_table
from glotforge.corpus.scripts import script_data

SPACE, LETTER, DIGIT, PUNCT, NONSPACING = 1, 2, 4, 8, 16
#: URLs and e-mail addresses; a line that is nothing but these (and punctuation) is `*_only`
URL_RE = r"(?i)(?:https?://|ftp://|www\.)[^\s]+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|edu|gov|info|biz|io|ru|de|cn|uk|fr|jp|br|in|it|nl|pl|es|ca|au)(?:/[^\s]*)?"  # noqa: E501
EMAIL_RE = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"

#: columns `compute` returns, in order; numeric ones can carry thresholds
FEATURES = [
    "n_chars", "n_letters", "n_words", "longest_word", "char_run", "char_repetition",
    "word_repetition", "special_ratio", "digit_ratio", "punct_ratio",
    "url_only", "email_only", "number_only", "no_letters", "boilerplate",
]  # fmt: skip


@dataclass(frozen=True)
class FeatureParams:
    """What the features depend on besides the text (all from the layered recipe table)."""

    char_repetition_n: int = 10
    word_repetition_n: int = 5
    nonspacing_label: bool = False
    chars_per_word: float = 1.0
    boilerplate: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def char_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class flags uint8, lower-case code point uint32, 1/chars_per_word float32), all over 0x110000.

    LETTER = `\\p{L}`, `\\p{M}` or a script symbol (Braille is written in symbols); built once per
    process from `regex` (about 0.5 s).
    """
    import regex

    everything = "".join(chr(c) if not 0xD800 <= c <= 0xDFFF else " " for c in range(0x110000))
    flags = np.zeros(0x110000, dtype=np.uint8)
    for pattern, flag in [(r"\s+", SPACE), (r"[\p{L}\p{M}]+", LETTER), (r"\p{N}+", DIGIT), (r"\p{P}+", PUNCT)]:
        for m in regex.finditer(pattern, everything):
            flags[m.start() : m.end()] |= flag
    table, names = load_table()
    flags[(table != 0) & ((flags & (PUNCT | DIGIT | SPACE)) == 0)] |= LETTER
    per_word = script_data()["nonspacing"]
    weights = np.zeros(256, dtype=np.float32)
    for sid, code in enumerate(names):
        if code in per_word:
            weights[sid] = 1.0 / float(per_word[code])
    ns_weight = weights[table]
    flags[(ns_weight > 0) & ((flags & LETTER) != 0)] |= NONSPACING
    lower = np.arange(0x110000, dtype=np.uint32)
    for start in range(0, 0x110000, 0x1000):
        for c in range(start, start + 0x1000):
            low = everything[c].lower()
            if len(low) == 1 and low != everything[c]:
                lower[c] = ord(low)
    for arr in (flags, lower, ns_weight):
        arr.setflags(write=False)
    return flags, lower, ns_weight


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    return cps, rows, lengths


def _tokens(fl: np.ndarray, rows: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spacing-script words: maximal runs of characters that are neither space nor non-spacing letters.

    Returns (token id of every position, -1 outside tokens; start position of each token; whether
    each token holds a letter or digit).
    """
    inside = (fl & (SPACE | NONSPACING)) == 0
    prev_inside = np.zeros_like(inside)
    prev_inside[1:] = inside[:-1] & (rows[1:] == rows[:-1])
    start = inside & ~prev_inside
    tok = np.cumsum(start) - 1
    tok[~inside] = -1
    starts = np.flatnonzero(start)
    alnum = np.bincount(tok[inside], weights=((fl[inside] & (LETTER | DIGIT)) != 0), minlength=len(starts)) > 0
    return tok, starts, alnum


def _word_hashes(low: np.ndarray, tok: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """A 64-bit hash of every token's lower-cased text (polynomial over its code points)."""
    inside = tok >= 0
    pos = np.flatnonzero(inside)
    t = tok[inside]
    offset = (pos - starts[t]).astype(np.uint64)
    with np.errstate(over="ignore"):
        mult = (offset + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        contrib = (low[inside].astype(np.uint64) + np.uint64(0x51ED27)) * (mult | np.uint64(1))
        contrib ^= contrib >> np.uint64(29)
    return _segment_sum(contrib, t, len(starts))


def _segment_sum(values: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Sum (mod 2^64) of `values` per segment id `seg` (sorted), via a wrapping cumulative sum."""
    out = np.zeros(n, dtype=np.uint64)
    if len(values) == 0:
        return out
    with np.errstate(over="ignore"):
        csum = np.cumsum(values, dtype=np.uint64)
        ends = np.flatnonzero(np.append(seg[1:] != seg[:-1], True))
        at_end = csum[ends]
        before = np.concatenate([[np.uint64(0)], at_end[:-1]])
        out[seg[ends]] = at_end - before
    return out


def compute(df: pl.DataFrame, params: FeatureParams) -> pl.DataFrame:
    """The FEATURES of every row of `df` (column `text`), as a DataFrame of the same height."""
    texts = [t or "" for t in df.get_column("text").to_list()]
    n = len(texts)
    flags, lower, ns_weight = char_tables()
    cps, rows, lengths = _encode(texts)
    fl = flags[cps]
    letter = (fl & LETTER) != 0

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(rows[mask], minlength=n)

    n_letters, n_digits, n_punct = count(letter), count((fl & DIGIT) != 0), count((fl & PUNCT) != 0)
    ns_words = np.bincount(rows, weights=ns_weight[cps], minlength=n)
    tok, starts, alnum = _tokens(fl, rows, n)
    tok_rows = rows[starts]
    tok_len = np.bincount(tok[tok >= 0], minlength=len(starts))
    n_words = np.bincount(tok_rows[alnum], minlength=n) + ns_words
    longest = ngrams.row_max(tok_len, tok_rows, n)
    char_run = ngrams.longest_run(cps, rows, n, letter)
    char_rep = ngrams.top_ngram_ratio(cps, rows, n, params.char_repetition_n)
    if params.nonspacing_label:
        span = max(2, round(params.word_repetition_n * params.chars_per_word))
        word_rep = ngrams.dup_ngram_ratio(lower[cps][letter], rows[letter], n, span)
    else:
        hashes = _word_hashes(lower[cps], tok, starts)
        word_rep = ngrams.dup_ngram_ratio(hashes[alnum], tok_rows[alnum], n, params.word_repetition_n)
    safe = np.maximum(lengths, 1)
    numeric = pl.DataFrame(
        {
            "n_chars": lengths,
            "n_letters": n_letters,
            "n_words": n_words,
            "longest_word": longest,
            "char_run": char_run,
            "char_repetition": char_rep,
            "word_repetition": word_rep,
            "special_ratio": np.where(lengths > 0, (lengths - n_letters) / safe, 0.0),
            "digit_ratio": n_digits / safe,
            "punct_ratio": n_punct / safe,
        }
    )
    text = pl.Series("text", texts, dtype=pl.Utf8)
    links = pl.DataFrame({"text": text}).select(
        url=pl.col("text").str.contains(URL_RE),
        email=pl.col("text").str.contains(EMAIL_RE),
        rest=pl.col("text").str.replace_all(EMAIL_RE, "").str.replace_all(URL_RE, "").str.count_matches(r"[\p{L}\p{M}]"),
        boilerplate=(
            pl.col("text").str.to_lowercase().str.contains_any(list(params.boilerplate))
            if params.boilerplate
            else pl.lit(False)
        ),
    )
    no_letters = n_letters == 0
    return numeric.with_columns(
        url_only=links["url"] & (links["rest"] == 0) & ~links["email"],
        email_only=links["email"] & (links["rest"] == 0),
        number_only=pl.Series(no_letters & (n_digits > 0)),
        no_letters=pl.Series(no_letters),
        boilerplate=links["boilerplate"],
    )

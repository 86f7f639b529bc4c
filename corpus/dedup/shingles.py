"""Script-aware shingling, vectorised over a whole batch of lines.

MinHash compares *sets of shingles*. Which shingles make sense depends on the writing system:

- scripts that put spaces between words (Latin, Cyrillic, Arabic, Devanagari, Ethiopic, ...) get
  **word n-grams**: robust to re-wrapping and cheap (one shingle per word);
- scripts that do not (Han, kana, Thai, Lao, Khmer, Myanmar, Tibetan, ...; the list is data in
  `glotforge.corpus.data/scripts.toml`, `[nonspacing]`, shared with the script and quality stages)
  get **character n-grams**: a whitespace tokenizer would see a whole Thai sentence as one "word",
  and MinHash would silently degrade into exact matching (text-dedup #90, #103);
- a line with fewer tokens than `n` becomes one shingle of all its tokens (so it still has a
  signature); lines too short to judge at all are kept out of near dedup by the stage.

Nothing here loops over lines in Python. A batch of lines becomes one array of code points
(`utf-32-le`), words are found with array masks, and every n-gram hash is a sum of token hashes
times per-position odd constants followed by a 64-bit finaliser (murmur3 `fmix64`). The functions
only need the token array and the tokens-per-line counts, so char and word n-grams share one
implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
# odd 64-bit multipliers, one per n-gram position (golden-ratio based, fixed forever: changing them
# changes every signature)
_POS = np.array([(0x9E3779B97F4A7C15 * (2 * i + 1)) & 0xFFFFFFFFFFFFFFFF | 1 for i in range(64)], dtype=np.uint64)


def fmix64(h: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser: spreads every input bit over all output bits (new array)."""
    h = h ^ (h >> _S33)
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    h ^= h >> _S33
    return h


@lru_cache(maxsize=1)
def _nonspacing() -> frozenset[str]:
    from glotforge.corpus.scripts import script_data

    return frozenset(script_data().get("nonspacing", {}))


def separates_words(script: str | None) -> bool:
    """Whether lines of `script` (ISO 15924) put spaces between words; unknown scripts are assumed to."""
    return script is None or script not in _nonspacing()


def codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(all code points of the batch as uint32, concatenated; code points per line as int64)."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cps, lengths


def ngram_hashes(tokens: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the token n-grams of every line: (uint64 hashes, concatenated; hashes per line).

    `tokens` holds the token hashes (or code points) of all lines back to back and `counts` the
    number of tokens of each line. A line with 0 < k < n tokens gives one n-gram of its k tokens.
    """
    m = len(tokens)
    counts = counts.astype(np.int64, copy=False)
    if m == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(len(counts), dtype=np.int64)
    ends = np.cumsum(counts)
    line_of = np.repeat(np.arange(len(counts)), counts)
    end_of = ends[line_of]
    pos = np.arange(m, dtype=np.int64)
    tok = np.concatenate([tokens.astype(np.uint64) + np.uint64(1), np.zeros(n, dtype=np.uint64)])
    acc = np.zeros(m, dtype=np.uint64)
    for j in range(n):
        term = tok[j : j + m] * _POS[j]
        term[pos + j >= end_of] = 0
        acc += term
    start_of = end_of - counts[line_of]
    keep = (pos + n <= end_of) | ((counts[line_of] < n) & (pos == start_of))
    per_line = np.where(counts >= n, counts - n + 1, np.minimum(counts, 1))
    return fmix64(acc[keep]), per_line


def word_tokens(cps: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every space-separated word of every line: (uint64 word hashes; words per line).

    Lines must be normalised (single spaces, trimmed); a line boundary also ends a word.
    """
    m = len(cps)
    if m == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(len(lengths), dtype=np.int64)
    line_of = np.repeat(np.arange(len(lengths)), lengths)
    line_start = np.zeros(m, dtype=bool)
    line_start[(np.cumsum(lengths) - lengths)[lengths > 0]] = True
    letter = cps != 32
    prev_space = np.empty(m, dtype=bool)
    prev_space[0] = True
    prev_space[1:] = ~letter[:-1]
    start = letter & (prev_space | line_start)
    idx = np.flatnonzero(letter)
    word_of = np.cumsum(start)[idx] - 1  # word number of every letter
    starts = np.flatnonzero(start)
    pos_in_word = (idx - starts[word_of]).astype(np.uint64)
    values = fmix64(cps[idx].astype(np.uint64) + (pos_in_word << np.uint64(32)))
    first = np.flatnonzero(np.diff(word_of, prepend=-1))
    words = fmix64(np.add.reduceat(values, first)) if len(first) else np.zeros(0, dtype=np.uint64)
    per_line = np.bincount(line_of[starts], minlength=len(lengths)).astype(np.int64)
    return words, per_line


def shingle(texts: Sequence[str], word_mode: bool, word_ngram: int, char_ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes of normalised lines: word n-grams when `word_mode`, else char n-grams."""
    cps, lengths = codepoints(texts)
    if word_mode:
        words, per_line = word_tokens(cps, lengths)
        return ngram_hashes(words, per_line, word_ngram)
    return ngram_hashes(cps, lengths, char_ngram)

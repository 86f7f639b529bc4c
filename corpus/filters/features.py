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
TLDS = ("com", "org", "net", "edu", "gov", "info", "biz", "io", "co", "ru", "de", "cn", "uk", "fr", "jp")
URL_RE = r"(?i)(?:https?://|ftp://|www\.)\S+|[\p{L}\p{N}_.-]+\.(?:" + "|".join(TLDS) + r")(?:/\S*)?"
EMAIL_RE = r"[\p{L}\p{N}_.+-]+@[\p{L}\p{N}_-]+(?:\.[\p{L}\p{N}_-]+)+"
#: a line that is only a Roman numeral (with optional brackets/dot) is a number, like "12."
ROMAN_RE = r"^\s*[(\[]?M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})[.):\]]?\s*$"
#: cheap substring test that selects the few lines on which the URL/e-mail regexes run
LINK_HINTS = ["://", "www.", "@", *(f".{tld}" for tld in TLDS)]

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
    ratio_slack_chars: int = 4
    boilerplate: tuple[str, ...] = ()
    boilerplate_lines: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def char_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class flags uint8, lower-case code point uint32, 1/chars_per_word float32), all over 0x110000.

    LETTER = `\\p{L}`, `\\p{M}` or a script symbol (Braille is written in symbols); built once per
    process from `regex` (about 0.5 s).
    """
    import regex

    everything = "".join(chr(c) if not 0xD800 <= c <= 0xDFFF else " " for c in range(0x110000))
    flags = np.zeros(0x110000, dtype=np.uint8)
    for pattern, flag in [
        (r"\s+", SPACE),
        (r"[\p{L}\p{M}]+", LETTER),
        (r"\p{N}+", DIGIT),
        (r"\p{P}+", PUNCT),
    ]:
        for m in regex.finditer(pattern, everything):
            flags[m.start() : m.end()] |= flag
    for sep in script_data()["word_separators"]:
        flags[ord(sep)] = SPACE
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


@lru_cache(maxsize=8)
def _cased(phrases: tuple[str, ...]) -> list[str]:
    """Phrases in lower, Capitalised, Title and UPPER case: substring search without lower-casing
    every line (ASCII case is ignored by the matcher anyway; this covers Cyrillic, Greek, ...)."""
    return sorted({v for p in phrases for v in (p, p.capitalize(), p.title(), p.upper())})


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code points of the batch concatenated, per-row lengths, row offsets with a final total)."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cps, lengths, np.concatenate(([0], np.cumsum(lengths)))


def _per_row(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum of `values` (bool or number, one per code point) per row, 0 for empty rows."""
    dtype = np.float64 if values.dtype.kind == "f" else np.int64
    out = np.zeros(len(offsets) - 1, dtype=dtype)
    full = np.flatnonzero(offsets[1:] > offsets[:-1])
    if len(full):
        out[full] = np.add.reduceat(values, offsets[:-1][full], dtype=dtype)
    return out


def _tokens(fl: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spacing-script words: maximal runs of characters that are neither space nor non-spacing letters.

    Returns (length, row and has-a-letter-or-digit of each token), tokens in text order.
    """
    inside = (fl & (SPACE | NONSPACING)) == 0
    edge = np.zeros(len(inside) + 1, dtype=bool)
    edge[offsets] = True  # row boundaries break tokens
    begin = inside.copy()
    begin[1:] &= ~inside[:-1] | edge[1:-1]
    end = inside.copy()
    end[:-1] &= ~inside[1:] | edge[1:-1]
    starts, stops = np.flatnonzero(begin), np.flatnonzero(end) + 1
    alnum = _cumulative((fl & (LETTER | DIGIT)) != 0)
    has_alnum = (alnum[stops] - alnum[starts]) > 0
    rows = np.searchsorted(offsets, starts, side="right") - 1
    return stops - starts, rows, has_alnum


def _cumulative(mask: np.ndarray) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))


def _word_ids(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """ROOTS words as 64-bit hashes, and the number of words per row.

    ROOTS splits on spaces, lower-cases and strips special characters (punctuation, symbols, digits)
    from both ends of each word, dropping words left empty. Deleting those characters everywhere
    before splitting gives the same words except that inner ones go too ("don't" -> "dont"), which
    never changes which words are equal in practice and is a third faster (one simple regex pass).
    """
    words = texts.str.to_lowercase().str.replace_all(r"[\p{P}\p{S}\p{N}]+", "").str.split(" ")
    per_row = words.list.len().to_numpy().astype(np.int64)
    flat = words.explode()
    keep = (flat.str.len_bytes() > 0).fill_null(False).to_numpy()
    rows = np.repeat(np.arange(len(per_row)), per_row)
    return flat.filter(pl.Series(keep)).hash(seed=0).to_numpy(), np.bincount(
        rows[keep], minlength=len(per_row)
    )


def compute(df: pl.DataFrame, params: FeatureParams) -> pl.DataFrame:
    """The FEATURES of every row of `df` (column `text`), as a DataFrame of the same height."""
    text = df.get_column("text").cast(pl.Utf8).fill_null("")
    texts = text.to_list()
    n = len(texts)
    flags, lower, ns_weight = char_tables()
    cps, lengths, offsets = _encode(texts)
    fl = flags[cps]
    letter = (fl & LETTER) != 0
    n_letters = _per_row(letter, offsets)
    n_digits = _per_row((fl & DIGIT) != 0, offsets)
    n_punct = _per_row((fl & PUNCT) != 0, offsets)
    nonspacing = (fl & NONSPACING) != 0
    if nonspacing.any():  # word-equivalents of letters of scripts without spaces (data/scripts.toml)
        ns_words = _per_row(np.where(nonspacing, ns_weight[cps], 0).astype(np.float64), offsets)
    else:
        ns_words = np.zeros(n, dtype=np.float64)
    tok_len, tok_rows, alnum = _tokens(fl, offsets)
    n_words = np.bincount(tok_rows[alnum], minlength=n) + ns_words
    longest = ngrams.row_max(tok_len, tok_rows, n)
    char_run = ngrams.longest_run(cps, lengths, letter)
    char_rep = ngrams.top_ngram_ratio(cps, lengths, params.char_repetition_n)
    if params.nonspacing_label:
        span = max(2, round(params.word_repetition_n * params.chars_per_word))
        word_rep = ngrams.dup_ngram_ratio(lower[cps][letter], n_letters, span)
    else:
        ids, per_row = _word_ids(text)
        word_rep = ngrams.dup_ngram_ratio(ids, per_row, params.word_repetition_n)
    safe = np.maximum(lengths, 1)
    slack = params.ratio_slack_chars

    def ratio(part: np.ndarray) -> np.ndarray:
        """Share of the line, after forgiving `slack` characters: short headings such as "Art. 28:"
        or "第29条" are mostly digits and punctuation but are text; junk of any length is not."""
        return np.maximum(part - slack, 0) / safe

    numeric = pl.DataFrame(
        {
            "n_chars": lengths,
            "n_letters": n_letters,
            "n_words": n_words,
            "longest_word": longest,
            "char_run": char_run,
            "char_repetition": char_rep,
            "word_repetition": word_rep,
            "special_ratio": ratio(lengths - n_letters),
            "digit_ratio": ratio(n_digits),
            "punct_ratio": ratio(n_punct),
        }
    )
    url, email, rest = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, np.int64)
    hint = text.str.contains_any(LINK_HINTS, ascii_case_insensitive=True).to_numpy()
    cand = np.flatnonzero(hint)
    if len(cand):
        sub = pl.DataFrame({"text": text.gather(cand)}).select(
            url=pl.col("text").str.contains(URL_RE),
            email=pl.col("text").str.contains(EMAIL_RE),
            rest=pl.col("text")
            .str.replace_all(EMAIL_RE, "")
            .str.replace_all(URL_RE, "")
            .str.count_matches(r"[\p{L}\p{M}]"),
        )
        url[cand], email[cand], rest[cand] = (
            sub["url"].to_numpy(),
            sub["email"].to_numpy(),
            sub["rest"].to_numpy(),
        )
    boiler = np.zeros(n, bool)
    if params.boilerplate:
        boiler |= text.str.contains_any(_cased(params.boilerplate), ascii_case_insensitive=True).to_numpy()
    short = np.flatnonzero(lengths <= max(map(len, params.boilerplate_lines), default=0) + 8)
    if len(short):
        bare = text.gather(short).str.to_lowercase().str.replace_all(r"^[\p{P}\p{S}\s]+|[\p{P}\p{S}\s]+$", "")
        boiler[short] |= bare.is_in(list(params.boilerplate_lines)).to_numpy()
    no_letters = n_letters == 0
    roman = np.zeros(n, bool)
    few = np.flatnonzero((n_letters > 0) & (lengths <= 12))
    if len(few):
        roman[few] = text.gather(few).str.contains(ROMAN_RE).to_numpy()
    return numeric.with_columns(
        url_only=pl.Series(url & (rest == 0) & ~email),
        email_only=pl.Series(email & (rest == 0)),
        number_only=pl.Series((no_letters & (n_digits > 0)) | roman),
        no_letters=pl.Series(no_letters),
        boilerplate=pl.Series(boiler),
    )

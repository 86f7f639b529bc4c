"""Dedup building blocks: shingles, MinHash signatures (datasketch as oracle), LSH banding, union-find."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
from datasketch import MinHash, MinHashLSH
from datasketch.lsh import _optimal_param

from glotforge.corpus.dedup.lsh import bucket_edges, candidates
from glotforge.corpus.dedup.minhash import band_hashes, estimate_jaccard, lsh_params, permutations, signatures
from glotforge.corpus.dedup.normalize import hash_keys
from glotforge.corpus.dedup.shingles import codepoints, ngram_hashes, separates_words, shingle, word_tokens
from glotforge.corpus.dedup.unionfind import components, resolve_greedy

from corpus_fixtures import SAMPLE


def test_char_ngrams_are_position_independent_and_counted_per_line():
    h, per_line = shingle(["abcdef", "xxabcdexx", "ab", ""], False, word_ngram=2, char_ngram=3)
    assert per_line.tolist() == [4, 7, 1, 0]
    first, second = set(h[:4].tolist()), set(h[4:11].tolist())
    assert len(first & second) == 3  # abc, bcd, cde
    assert h[11] not in first  # a line shorter than n is one shingle of its own


def test_word_tokens_split_on_spaces_and_line_ends():
    cps, lengths = codepoints(["the cat sat", "cat the", "thecat"])
    words, per_line = word_tokens(cps, lengths)
    assert per_line.tolist() == [3, 2, 1]
    w = words.tolist()
    assert w[0] == w[4] and w[1] == w[3]  # same word, same hash, in any line
    assert len(set(w)) == 4  # the, cat, sat, thecat
    assert words.dtype == np.uint64


def test_short_lines_get_one_ngram_of_all_their_tokens():
    tokens = np.array([1, 2, 3, 4, 5, 6], dtype=np.uint64)
    h, per_line = ngram_hashes(tokens, np.array([1, 2, 3]), 3)
    assert per_line.tolist() == [1, 1, 1] and len(set(h.tolist())) == 3


def test_nonspacing_scripts_come_from_the_shared_script_data():
    assert not separates_words("Thai") and not separates_words("Hans") and not separates_words("Mymr")
    assert separates_words("Latn") and separates_words("Ethi") and separates_words("Deva")
    assert separates_words(None)


def true_jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def test_signatures_estimate_jaccard_like_datasketch():
    """Oracle: on real sentence pairs our estimates and datasketch's track the true Jaccard equally well."""
    texts = pl.read_parquet(SAMPLE).filter(pl.col("label") == "eng_Latn")["text"].to_list()
    rng = random.Random(3)
    pairs = []
    for t in texts:
        if len(t) > 60:
            words = t.lower().split()
            other = list(words)
            for _ in range(rng.randint(0, len(words) // 2)):
                other[rng.randrange(len(words))] = "zz" + str(rng.randrange(10**6))
            pairs.append((" ".join(words), " ".join(other)))
    lines = [x for p in pairs for x in p]
    h, per_line = shingle(lines, True, 2, 5)
    sig = signatures(h, per_line, permutations(128))
    ours = estimate_jaccard(sig[0::2], sig[1::2])

    def grams(s: str) -> set[str]:
        w = s.split()
        return {" ".join(w[i:i + 2]) for i in range(len(w) - 1)}

    truth, theirs = [], []
    for x, y in pairs:
        gx, gy = grams(x), grams(y)
        truth.append(true_jaccard(gx, gy))
        mx, my = MinHash(num_perm=128, seed=1), MinHash(num_perm=128, seed=1)
        mx.update_batch([g.encode() for g in gx])
        my.update_batch([g.encode() for g in gy])
        theirs.append(mx.jaccard(my))
    truth, theirs = np.array(truth), np.array(theirs)
    assert len(truth) > 30
    err_ours, err_theirs = np.abs(ours - truth).mean(), np.abs(theirs - truth).mean()
    assert err_ours < 0.05 and err_ours < 1.5 * err_theirs + 0.01
    assert abs(np.mean(ours - truth)) < 0.02  # unbiased


def test_identical_sets_have_identical_signatures_and_bands():
    h, per_line = shingle(["one two three four", "four three two one two", "one two three four"], True, 1, 5)
    sig = signatures(h, per_line, permutations(64))
    assert np.array_equal(sig[0], sig[2]) and np.array_equal(sig[0], sig[1])  # same word set
    bands = band_hashes(sig, 8, 8)
    assert bands.shape == (3, 8) and np.array_equal(bands[0], bands[2])


def test_lsh_params_are_datasketch_optimum():
    for t in (0.5, 0.6, 0.7, 0.8, 0.9):
        assert lsh_params(t, 128) == tuple(_optimal_param(t, 128, 0.5, 0.5))


def test_lsh_candidates_agree_with_datasketch_lsh():
    """Oracle: pairs datasketch's MinHashLSH finds at J >= 0.8 are found by our banding too, and vice versa."""
    rng = random.Random(7)
    vocab = [f"t{i}" for i in range(5000)]
    sets = []
    for _ in range(150):
        base = rng.sample(vocab, 40)
        sets.append(base)
        near = list(base)
        near[rng.randrange(40)] = rng.choice(vocab)
        sets.append(near)  # J about 0.95
    lines = [" ".join(s) for s in sets]
    h, per_line = shingle(lines, True, 1, 5)
    sig = signatures(h, per_line, permutations(128))
    b, r = lsh_params(0.8, 128)
    a_, b_ = candidates(band_hashes(sig, b, r), np.arange(len(lines)), 16)
    ours = set(zip(a_.tolist(), b_.tolist(), strict=True))
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i, s in enumerate(sets):
        m = MinHash(num_perm=128)
        m.update_batch([w.encode() for w in s])
        lsh.insert(i, m)
    theirs = set()
    for i, s in enumerate(sets):
        m = MinHash(num_perm=128)
        m.update_batch([w.encode() for w in s])
        theirs |= {(min(i, j), max(i, j)) for j in lsh.query(m) if j != i}
    planted = {(2 * i, 2 * i + 1) for i in range(150)}
    assert planted <= ours and planted <= theirs
    assert len(ours - planted) <= 3 and len(theirs - planted) <= 3


def test_bucket_edges_bound_fan_out_and_keep_order():
    keys = np.array([5, 5, 5, 5, 5, 9, 7, 7], dtype=np.uint64)
    rows = np.arange(8)
    a, b = bucket_edges(keys, rows, max_partners=2)
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    # first two members + predecessor: (2, 3) and (3, 4) come from the predecessor rule
    assert pairs == {(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3), (0, 4), (1, 4), (3, 4), (6, 7)}
    assert all(x < y for x, y in pairs)


def test_components_root_is_the_smallest_node():
    a = np.array([5, 3, 8, 1, 9])
    b = np.array([3, 8, 2, 7, 0])
    root = components(a, b, 10)
    assert root.tolist() == [0, 1, 2, 2, 4, 2, 6, 1, 2, 0]


def test_resolve_greedy_never_removes_through_a_removed_line():
    # 0~1 (0.9), 1~2 (0.8), 0~2 missing: 2 stays. 3~4 and 0~4: 4 points at the more similar kept line.
    a = np.array([0, 1, 3, 0])
    b = np.array([1, 2, 4, 4])
    sim = np.array([0.9, 0.8, 0.7, 0.75])
    rows, twins, sims = resolve_greedy(a, b, sim)
    assert rows.tolist() == [1, 4] and twins.tolist() == [0, 0] and sims.tolist() == [0.9, 0.75]


def test_key_hashes_64_and_128_bits():
    keys = pl.Series(["a", "b", "a"])
    h128, h64 = hash_keys(keys, 128), hash_keys(keys, 64)
    assert (h128[0] == h128[2]).all() and not (h128[0] == h128[1]).all()
    assert h64[:, 1].tolist() == [0, 0, 0] and h64[0, 0] == h64[2, 0] != h64[1, 0]

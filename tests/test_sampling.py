"""Tests of the shared α-sampler (train/sampling.py) on small corpora in the contract layout."""

from __future__ import annotations

import math
from collections import Counter

import polars as pl
import pytest

from glotforge.train.sampling import (
    corpus_files,
    iter_sampled_texts,
    label_sizes,
    sample_counts,
    sampling_plan,
    sampling_probabilities,
)

from corpus_fixtures import CORE_SCHEMA, write_sample_corpus

SIZES = {"big_Latn": 10_000, "mid_Cyrl": 1_000, "small_Arab": 10}


def test_probabilities_follow_n_to_the_alpha():
    p = sampling_probabilities(SIZES, alpha=0.3)
    z = sum(v**0.3 for v in SIZES.values())
    for k, v in SIZES.items():
        assert p[k] == pytest.approx(v**0.3 / z)
    assert sum(p.values()) == pytest.approx(1.0)
    assert sampling_probabilities(SIZES, alpha=1.0)["big_Latn"] == pytest.approx(10_000 / 11_010)
    assert all(v == pytest.approx(1 / 3) for v in sampling_probabilities(SIZES, alpha=0.0).values())


def test_head_labels_weigh_like_the_smallest_tail_label():
    sizes = {"eng_Latn": 1_000_000, "fra_Latn": 500_000, "tail_Latn": 40_000, "tiny_Latn": 30_000}
    p = sampling_probabilities(sizes, alpha=0.3, head={"eng_Latn", "fra_Latn"})
    assert p["eng_Latn"] == pytest.approx(p["tiny_Latn"])
    assert p["fra_Latn"] == pytest.approx(p["tiny_Latn"])
    assert p["tail_Latn"] / p["tiny_Latn"] == pytest.approx((40_000 / 30_000) ** 0.3)
    with pytest.raises(ValueError):
        sampling_probabilities({"eng_Latn": 5}, head={"eng_Latn"})


def test_empty_labels_are_dropped():
    p = sampling_probabilities({"a_Latn": 0, "b_Latn": 4})
    assert p == {"b_Latn": 1.0}


def test_counts_sum_to_n_and_round_closely():
    for n in (0, 1, 7, 1000, 12_345):
        c = sample_counts(SIZES, n)
        assert sum(c.values()) == n
        p = sampling_probabilities(SIZES)
        assert all(abs(c[k] - n * p[k]) < 1 for k in SIZES)


def test_max_epochs_caps_repetition_and_redistributes():
    c = sample_counts(SIZES, 3_000, max_epochs=2)
    assert c["small_Arab"] == 20
    assert sum(c.values()) == 3_000
    uncapped = sample_counts(SIZES, 3_000)
    assert uncapped["small_Arab"] > 20
    assert c["big_Latn"] > uncapped["big_Latn"] and c["mid_Cyrl"] > uncapped["mid_Cyrl"]
    # every label capped: the total falls short instead of breaking the cap
    assert sum(sample_counts(SIZES, 100_000, max_epochs=1).values()) == sum(SIZES.values())


def test_plan_table():
    plan = sampling_plan(SIZES, 500)
    assert plan.columns == ["label", "rows", "p", "draws", "epochs"]
    assert plan["draws"].sum() == 500
    row = plan.filter(pl.col("label") == "small_Arab").row(0, named=True)
    assert row["epochs"] == pytest.approx(row["draws"] / 10)


def _write_grouped(out, label, texts, row_group_size):
    """One label split into two part files with small row groups (exercises the row-group reader)."""
    d = out / "corpus" / label
    d.mkdir(parents=True)
    half = len(texts) // 2
    for k, chunk in enumerate((texts[:half], texts[half:])):
        start = 0 if k == 0 else half
        pl.DataFrame(
            {
                "text": chunk,
                "label": [label] * len(chunk),
                "source": ["s.txt"] * len(chunk),
                "line": list(range(start + 1, start + 1 + len(chunk))),
                "sentence": [0] * len(chunk),
            },
            schema=CORE_SCHEMA,
        ).write_parquet(d / f"part-{k:05d}.parquet", row_group_size=row_group_size)


@pytest.fixture
def grouped_corpus(tmp_path):
    _write_grouped(tmp_path, "aaa_Latn", [f"a{i}" for i in range(500)], 13)
    _write_grouped(tmp_path, "bbb_Cyrl", [f"b{i}" for i in range(60)], 7)
    _write_grouped(tmp_path, "ccc_Grek", [f"c{i}" for i in range(5)], 2)
    return tmp_path


def test_layout_and_sizes(grouped_corpus):
    assert list(corpus_files(grouped_corpus)) == ["aaa_Latn", "bbb_Cyrl", "ccc_Grek"]
    assert corpus_files(grouped_corpus / "corpus").keys() == corpus_files(grouped_corpus).keys()
    assert label_sizes(grouped_corpus) == {"aaa_Latn": 500, "bbb_Cyrl": 60, "ccc_Grek": 5}
    with pytest.raises(FileNotFoundError):
        corpus_files(grouped_corpus / "nope")


def test_stream_matches_plan_and_is_deterministic(grouped_corpus):
    n = 400
    got = list(iter_sampled_texts(grouped_corpus, n, seed=3, block_size=50))
    assert len(got) == n
    plan = sample_counts(label_sizes(grouped_corpus), n)
    assert Counter(label for label, _ in got) == Counter(plan)
    assert all(text[0] == label[0] for label, text in got)  # text came from its own label
    assert got == list(iter_sampled_texts(grouped_corpus, n, seed=3, block_size=50))
    assert got != list(iter_sampled_texts(grouped_corpus, n, seed=4, block_size=50))
    # the order is shuffled across labels, not label after label
    first = [label for label, _ in got[:50]]
    assert len(set(first)) == 3


def test_without_replacement_inside_an_epoch(grouped_corpus):
    got = list(iter_sampled_texts(grouped_corpus, 400, seed=1, block_size=64))
    plan = sample_counts(label_sizes(grouped_corpus), 400)
    a = Counter(t for label, t in got if label == "aaa_Latn")
    assert plan["aaa_Latn"] < 500 and max(a.values()) == 1  # a subset, no repeats
    c = Counter(t for label, t in got if label == "ccc_Grek")
    reps = plan["ccc_Grek"] / 5
    assert reps > 1 and set(c) == {f"c{i}" for i in range(5)}  # every row, repeated evenly
    assert set(c.values()) <= {math.floor(reps), math.ceil(reps)}


def test_label_subset_is_independent_of_other_labels(grouped_corpus):
    both = list(iter_sampled_texts(grouped_corpus, 300, seed=9, labels=["aaa_Latn", "bbb_Cyrl"]))
    assert {label for label, _ in both} == {"aaa_Latn", "bbb_Cyrl"}
    with pytest.raises(KeyError):
        list(iter_sampled_texts(grouped_corpus, 10, labels=["zzz_Zzzz"]))
    # the rows a label contributes depend on (seed, label) only: same draws -> same rows
    k = sample_counts({"aaa_Latn": 500, "bbb_Cyrl": 60}, 300)["bbb_Cyrl"]
    alone = list(iter_sampled_texts(grouped_corpus, k, seed=9, labels=["bbb_Cyrl"]))
    assert sorted(t for _, t in alone) == sorted(t for lb, t in both if lb == "bbb_Cyrl")


def test_block_size_does_not_change_the_multiset(grouped_corpus):
    a = list(iter_sampled_texts(grouped_corpus, 300, seed=5, block_size=17))
    b = list(iter_sampled_texts(grouped_corpus, 300, seed=5, block_size=1000))
    assert Counter(a) == Counter(b)


def test_on_the_bundled_sample(tmp_path):
    write_sample_corpus(tmp_path, rows_per_part=40)
    sizes = label_sizes(tmp_path)
    assert len(sizes) == 178
    got = list(iter_sampled_texts(tmp_path, 5_000, seed=0))
    assert len(got) == 5_000
    counts = Counter(label for label, _ in got)
    # α = 0.3 flattens: the smallest label gets far more than its proportional share
    smallest = min(sizes, key=sizes.get)
    assert counts[smallest] > 5_000 * sizes[smallest] / sum(sizes.values()) * 3


def test_stream_with_repetition_cap_and_head(grouped_corpus):
    sizes = label_sizes(grouped_corpus)
    got = list(iter_sampled_texts(grouped_corpus, 400, seed=2, max_epochs=1, head={"aaa_Latn"}))
    plan = sample_counts(sizes, 400, head={"aaa_Latn"}, max_epochs=1)
    assert Counter(label for label, _ in got) == Counter(plan)
    assert plan["ccc_Grek"] == 5 and max(Counter(got).values()) == 1  # capped at one pass: no repeats

"""The dedup label stage on in-memory labels: exact and near decisions, scripts, short lines, determinism."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest

from glotforge.corpus.dedup.config import DedupConfig
from glotforge.corpus.dedup.normalize import KeyOptions, normalize
from glotforge.corpus.dedup.stage import DedupStage, dedup_frame
from glotforge.corpus.schema import DECISION_SCHEMA
from glotforge.pipelines.recipe import default_recipe

from corpus_fixtures import SAMPLE

RECIPE = default_recipe()["dedup"]


def label_lines(label: str, min_chars: int = 60) -> list[str]:
    """Distinct, long-enough UDHR lines of one label of the bundled sample."""
    df = pl.read_parquet(SAMPLE).filter(pl.col("label") == label, pl.col("text").str.len_chars() >= min_chars)
    return df.unique("text", keep="first", maintain_order=True)["text"].to_list()


def frame(texts: list[str], source: str = "a.txt") -> pl.DataFrame:
    return pl.DataFrame({"text": texts, "source": [source] * len(texts),
                         "line": pl.Series(range(1, len(texts) + 1), dtype=pl.Int64)})


def run(texts: list[str], label: str = "eng_Latn", **overrides) -> tuple[pl.DataFrame, dict]:
    return dedup_frame(frame(texts), label, {**RECIPE, **overrides})


def decided(out: pl.DataFrame) -> dict[int, tuple[str, int]]:
    """line -> (reason, ref_line) of removed lines."""
    rem = out.filter(pl.col("reason").is_not_null())
    return {ln: (r, ref) for ln, r, ref in rem.select("line", "reason", "ref_line").iter_rows()}


def test_exact_duplicates_after_normalisation_point_at_the_first_line():
    base = "All human beings are born free and equal in dignity and rights."
    out, report = run([base, "ALL HUMAN BEINGS are born free, and equal in dignity and rights",
                       "Ａｌｌ human beings are born free and equal in dignity and rights.", "Something else."])
    assert decided(out) == {2: ("dedup:exact", 1), 3: ("dedup:exact", 1)}
    rem = out.filter(pl.col("reason").is_not_null())
    assert rem["score"].to_list() == [1.0, 1.0] and rem["ref_source"].to_list() == ["a.txt", "a.txt"]
    assert report["exact"] == 2 and report["near"] == 0 and report["kept"] == 2
    assert report["clusters"][0]["size"] == 3 and report["clusters"][0]["example"] == base


def test_combining_marks_are_kept_in_keys():
    keys = normalize(pl.Series(["भारत एक विशाल देश है", "भारत एक विशाल दश ह", "Việt Nam", "Viet Nam"]), KeyOptions())
    assert keys.to_list() == ["भारत एक विशाल देश है", "भारत एक विशाल दश ह", "việt nam", "viet nam"]
    out, _ = run(["भारत एक विशाल देश है", "भारत एक विशाल दश ह"], "hin_Deva")
    assert decided(out) == {}


def test_punctuation_only_lines_are_not_merged():
    out, _ = run(["* * *", "— — —", "* * *"])
    assert decided(out) == {3: ("dedup:exact", 1)}


def test_near_duplicate_points_at_its_kept_twin_with_similarity():
    lines = label_lines("eng_Latn")[:40]
    original = lines[5]
    edited = original.replace("e", "a", 1) + " 17"
    out, report = run([*lines, edited])
    assert decided(out) == {len(lines) + 1: ("dedup:near", 6)}
    row = out.filter(pl.col("reason") == "dedup:near").row(0, named=True)
    assert RECIPE["threshold"] <= row["score"] < 1.0 and row["ref_source"] == "a.txt"
    assert row["detail"] == "cluster 5 size 2"
    assert report["near"] == 1 and report["shingles"] == "word2"


@pytest.mark.parametrize("label", ["tha_Thai", "cmn_Hans", "jpn_Jpan", "khm_Khmr", "mya_Mymr", "lao_Laoo"])
def test_scripts_without_spaces_use_character_shingles(label):
    lines = label_lines(label, min_chars=40)[:30]
    assert len(lines) >= 5
    original = lines[3]
    cut = len(original) // 2
    edited = original[:cut] + original[cut + 1:]  # one character deleted mid-line: no space to lean on
    out, report = run([*lines, edited], label)
    assert report["shingles"] == ("char3" if label in ("cmn_Hans", "jpn_Jpan") else "char5")
    assert decided(out).get(len(lines) + 1) == ("dedup:near", 4)
    assert len(decided(out)) == 1  # no other line of the label removed


def test_whitespace_shingles_fail_on_thai_which_is_why_scripts_matter():
    lines = label_lines("tha_Thai", min_chars=40)[:30]
    edited = lines[3][:20] + lines[3][21:]
    out, _ = run([*lines, edited], "tha_Thai", shingle="word")
    assert len(lines) + 1 not in decided(out)


def test_very_short_lines_are_only_deduplicated_exactly():
    out, report = run(["Article 12", "Article 13", "article 12.", "Artikel 12"])
    assert decided(out) == {3: ("dedup:exact", 1)}
    assert report["near_eligible"] == 0


def test_no_chaining_through_a_removed_line():
    words = [f"w{i:02d}" for i in range(40)]
    a = " ".join(words)
    b_words = list(words)
    for i in (5, 18, 31):
        b_words[i] = "x" + b_words[i]
    c_words = list(b_words)
    for i in (11, 24, 37):
        c_words[i] = "y" + c_words[i]
    out, _ = run([a, " ".join(b_words), " ".join(c_words)], threshold=0.63)
    # B is a near copy of A; C is only near B, which is removed, so C stays
    assert decided(out) == {2: ("dedup:near", 1)}


def test_same_decisions_for_any_batch_size_and_signature_budget():
    lines = label_lines("eng_Latn", 30)
    texts = lines + [t.upper() for t in lines[::3]] + [t + " 1" for t in lines[1::4]] + lines[::5]
    df = frame(texts)
    ref, ref_report = dedup_frame(df, "eng_Latn", RECIPE, batch_size=100_000)
    assert ref["reason"].drop_nulls().len() > len(lines) // 2
    for batch, budget in ((7, 1024), (64, 0), (1000, 0)):
        out, report = dedup_frame(df, "eng_Latn", {**RECIPE, "signature_memory_mb": budget}, batch_size=batch)
        assert out.equals(ref)
        assert report == ref_report


def test_rows_with_gaps_keep_their_ids():
    """Rows that an earlier label stage removed are absent from batches(); ids must not be renumbered."""
    texts = ["Everyone has the right to life, liberty and security of person.", "gap",
             "Everyone has the right to life, liberty and security of person!", "No one shall be held in slavery."]
    df = frame(texts).with_row_index("row").with_columns(pl.col("row").cast(pl.UInt64)).filter(pl.col("row") != 1)

    def batches(columns: list[str]) -> Iterator[pl.DataFrame]:
        yield df.select(["row", *columns])

    rejections, report = DedupStage(RECIPE).decide("eng_Latn", batches)
    assert rejections.schema == pl.Schema(DECISION_SCHEMA)
    assert rejections.select("row", "reason", "ref_line").rows() == [(2, "dedup:exact", 1)]
    assert report["lines"] == 3


def test_empty_label_and_single_line():
    def none(columns):
        return iter(())

    rej, report = DedupStage({}).decide("eng_Latn", none)
    assert rej.height == 0 and report["lines"] == 0
    out, _ = run(["Only one line here, long enough to be looked at by near dedup."])
    assert decided(out) == {}


def test_config_layers_and_errors():
    assert DedupConfig.for_label(RECIPE, "cmn_Hant").char_ngram == 3
    assert DedupConfig.for_label({**RECIPE, "by_label": {"eng_Latn": {"threshold": 0.9}}}, "eng_Latn").threshold == 0.9
    with pytest.raises(ValueError, match="unknown key"):
        DedupStage({"treshold": 0.5})
    with pytest.raises(ValueError, match="threshold"):
        DedupStage({"threshold": 1.5})

"""Tests of script identification (glotforge.corpus.scripts) on hand-made lines and the bundled sample."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from glotforge.corpus import scripts as S
from glotforge.corpus.script_table import load_table
from glotforge.corpus.stages import build_stage

SAMPLE = Path(__file__).resolve().parents[1] / "corpus" / "data" / "sample" / "udhr_sample.parquet"


def frame(label: str, texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "text": texts,
            "label": [label] * len(texts),
            "source": ["t.txt"] * len(texts),
            "line": list(range(1, len(texts) + 1)),
            "sentence": [0] * len(texts),
        },
        schema={"text": pl.Utf8, "label": pl.Utf8, "source": pl.Utf8, "line": pl.Int64, "sentence": pl.Int32},
    )


def test_table_counts_letters_and_marks_only():
    table, names = load_table()
    assert table.shape == (0x110000,) and table.dtype == np.uint8
    code = {
        c: names[table[ord(c)]] if table[ord(c)] else None for c in "aЖא ب1١.,!中中中国國ひカ한ก\u0301\u093f"
    }
    assert code["a"] == "Latn" and code["Ж"] == "Cyrl" and code["א"] == "Hebr" and code["ب"] == "Arab"
    assert code["ก"] == "Thai" and code["ひ"] == "Hira" and code["カ"] == "Kana" and code["한"] == "Hang"
    assert code["\u093f"] == "Deva"  # a dependent vowel sign (mark) counts for its script
    assert code["国"] == "Hans" and code["國"] == "Hant" and code["中"] == "Hani"
    for ignored in " 1١.,!\u0301":  # space, digits (also Arabic-Indic), punctuation, Inherited accent
        assert code[ignored] is None


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("All human beings are born free", "Latn"),
        ("Все люди рождаются свободными", "Cyrl"),
        ("يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق", "Arab"),  # right-to-left
        ("כל בני האדם נולדו בני חורין ושווים", "Hebr"),  # right-to-left
        ("सभी मनुष्यों को गौरव और अधिकारों के मामले में", "Deva"),
        ("มนุษย์ทั้งหลายเกิดมามีอิสระและเสมอภาคกัน", "Thai"),  # no spaces between words
        ("すべての人間は、生まれながらにして自由であり", "Jpan"),  # kanji + kana = Jpan
        ("모든 인간은 태어날 때부터 자유로우며", "Hang"),
        ("모든 人間은 태어날 때부터 自由로우며", "Kore"),  # Hangul + hanja = Kore
        ("人人生而自由，在尊严和权利上一律平等。", "Hans"),
        ("人人生而自由，在尊嚴和權利上一律平等。", "Hant"),
        ("人人生而自由", "Hani"),  # no variant-specific character
        ("乾隆皇帝", "Hani"),  # one Traditional-only character is not enough evidence
        ("ᐃᓅᔪᓕᒻᒪᕆᒃ ᐊᖏᕐᕋᖃᑦᑕᕐᓂᖅ", "Cans"),
    ],
)
def test_identify_examples(text, script):
    top, share, second = S.identify([text])
    assert top == [script]
    assert share[0] == pytest.approx(1.0)
    assert second == [None]


def test_identify_share_second_and_empty_lines():
    top, share, second = S.identify(["Hello мир", "123 !!!", "", None, "abc ابت ابت"])
    assert top[0] == "Latn" and second[0] == "Cyrl" and share[0] == pytest.approx(5 / 8)
    assert top[1] is None and top[2] is None and top[3] is None and np.isnan(share[1])
    assert top[4] == "Arab" and second[4] == "Latn" and share[4] == pytest.approx(6 / 9)


def test_identify_is_chunk_independent(monkeypatch):
    texts = pl.read_parquet(SAMPLE)["text"].to_list()[:500]
    whole = S.identify(texts)
    monkeypatch.setattr(S, "CHUNK_ROWS", 7)
    chunked = S.identify(texts)
    assert whole[0] == chunked[0] and whole[2] == chunked[2]
    np.testing.assert_allclose(whole[1], chunked[1])


def test_dominant_script_of_a_source():
    assert S.dominant_script(["すべての人間は、", "生まれながらにして自由であり、", "第一条"]) == "Jpan"
    assert S.dominant_script(["모든 人間은 태어날 때부터", "自由로우며 그 존엄과 權利에 있어"]) == "Kore"
    assert S.dominant_script(["Все люди", "рождаются свободными", "1948"]) == "Cyrl"
    assert (
        S.dominant_script(
            ["人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。"]
        )
        == "Hans"
    )
    assert S.dominant_script(["人人生而自由"]) == "Hani"  # too little evidence for a variant
    assert S.dominant_script(["123", "!!!"]) is None
    assert S.dominant_script([]) is None


def test_accepts_composites_and_variants():
    assert S.accepts("Jpan", "Hani") and S.accepts("Jpan", "Hira") and S.accepts("Hira", "Jpan")
    assert S.accepts("Kore", "Hang") and S.accepts("Hang", "Kore") and not S.accepts("Hang", "Hani")
    assert S.accepts("Hani", "Hans") and S.accepts("Hans", "Hani")
    assert not S.accepts("Hans", "Hant") and S.accepts("Hans", "Hant", han_variants=False)
    assert not S.accepts("Latn", "Cyrl") and not S.accepts("Hans", "Jpan")
    assert S.accepts("Latn", None)


def test_label_script_and_layered_config():
    assert S.label_script("eng_Latn") == "Latn" and S.label_script("cmn_Hans") == "Hans"
    assert S.label_script("eng") is None and S.label_script("x_LATN") is None and S.label_script(None) is None
    cfg = {
        "min_share": 0.7,
        "by_script": {"Latn": {"min_share": 0.5}},
        "by_label": {"eng_Latn": {"min_share": 0.9}},
    }
    assert S.layered_config(cfg, "eng_Latn")["min_share"] == 0.9
    assert S.layered_config(cfg, "fra_Latn")["min_share"] == 0.5
    assert S.layered_config(cfg, "rus_Cyrl") == {"min_share": 0.7}


def test_script_stage_annotates_and_rejects():
    stage = build_stage("script", {"min_share": 0.7})
    assert stage.name == "script" and stage.scope == "line"
    assert stage.annotations == {"script": pl.Utf8, "script_share": pl.Float32, "script2": pl.Utf8}
    texts = [
        "Все люди рождаются свободными",  # keep
        "All human beings are born free",  # other script
        "Все люди рождаются free and equal",  # Cyrillic 16 of 28 letters: mixed
        "1948 — 2024",  # no letters: kept here (quality's job)
        "Статья 1 (Article 1)",  # Cyrillic 6 of 13 letters: Latin dominates
    ]
    out = stage.apply(frame("rus_Cyrl", texts))
    assert out.height == len(texts) and out["text"].to_list() == texts
    assert out["reason"].to_list() == [None, "script:mismatch", "script:mixed", None, "script:mismatch"]
    assert out.schema["script_share"] == pl.Float32 and out.schema["score"] == pl.Float64
    assert out["script"].to_list() == ["Cyrl", "Latn", "Cyrl", None, "Latn"]
    assert out["script2"].to_list() == [None, None, "Latn", None, "Cyrl"]
    assert (
        out["detail"][1] == "Latn 1.00" and out["detail"][0] is None and out["detail"][2] == "Cyrl 0.57 Latn"
    )
    assert out["score"][2] == pytest.approx(16 / 28)
    assert (
        pickle.loads(pickle.dumps(stage)).apply(frame("rus_Cyrl", texts))["reason"].to_list()
        == out["reason"].to_list()
    )


def test_script_stage_rtl_nonspacing_and_overrides():
    stage = S.ScriptStage({"by_label": {"heb_Hebr": {"min_share": 0.3}}})
    heb = stage.apply(
        frame("heb_Hebr", ["כל בני האדם נולדו", "כל בני האדם נולדו free and equal", "Hello world"])
    )
    assert heb["reason"].to_list() == [None, None, "script:mismatch"]  # 14 of 26 letters Hebrew >= 0.3
    strict = S.ScriptStage({}).apply(frame("heb_Hebr", ["כל בני האדם נולדו free and equal"]))
    assert strict["reason"].to_list() == ["script:mixed"]
    tha = stage.apply(frame("tha_Thai", ["มนุษย์ทั้งหลายเกิดมามีอิสระ", "人人生而自由"]))
    assert tha["reason"].to_list() == [None, "script:mismatch"]
    hans = stage.apply(
        frame(
            "cmn_Hans", ["人人生而自由，在尊严和权利上一律平等。", "在尊嚴和權利上一律平等。", "人人生而自由"]
        )
    )
    assert hans["reason"].to_list() == [None, "script:mismatch", None]
    relaxed = S.ScriptStage({"han_variants": False}).apply(frame("cmn_Hans", ["在尊嚴和權利上一律平等。"]))
    assert relaxed["reason"].to_list() == [None]
    jpn = stage.apply(frame("jpn_Jpan", ["第一条", "すべての人間は", "All human beings"]))
    assert jpn["reason"].to_list() == [None, None, "script:mismatch"]
    unchecked = S.ScriptStage({}).apply(frame("und_Zyyy", ["Hello", "Привет"]))
    assert unchecked["reason"].to_list() == [None, None]
    off = S.ScriptStage({"reject": False}).apply(frame("eng_Latn", ["Привет"]))
    assert off["reason"].to_list() == [None] and off["script"].to_list() == ["Cyrl"]


def test_bundled_sample_agrees_with_its_labels():
    df = pl.read_parquet(SAMPLE)
    stage = S.ScriptStage({})
    for (label,), group in df.group_by(["label"], maintain_order=True):
        out = stage.apply(frame(label, group["text"].to_list()))
        assert out["reason"].is_null().mean() >= 0.99, label
        assert S.accepts(S.label_script(label), S.dominant_script(group["text"].to_list())), label

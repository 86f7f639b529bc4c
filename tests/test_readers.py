"""Readers, compression and text hygiene on small real files with deliberate damage."""

import bz2
import gzip
import json
import lzma
from pathlib import Path

import polars as pl
import pytest
import zstandard

from glotforge.corpus.hygiene import apply_hygiene
from glotforge.corpus.readers import ReadOptions, ReadResult, SourceFormatError, infer_format, read_source
from glotforge.corpus.sentences import explode_sentences, split_sentences

LINES = ["Hello world.", "Привет, мир!", "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีชาวโลก", "你好，世界。"]
COMPRESSORS = {
    "": lambda b: b,
    ".gz": lambda b: gzip.compress(b, mtime=0),
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda b: zstandard.ZstdCompressor().compress(b),
}


def read_all(path: Path, **opts) -> tuple[pl.DataFrame, ReadResult]:
    fmt, comp = infer_format(path)
    result = ReadResult()
    options = ReadOptions(opts.pop("format", fmt), opts.pop("compression", comp), **opts)
    frames = list(read_source(path, options, 4, result))  # tiny batches: crosses batch borders
    return pl.concat(frames) if frames else pl.DataFrame(), result


def txt_body() -> bytes:
    return ("\n".join(LINES) + "\n").encode()


def jsonl_body() -> bytes:
    return "".join(
        json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(LINES)
    ).encode()


def tsv_body() -> bytes:
    return ("id\ttext\n" + "".join(f"{i}\t{t}\n" for i, t in enumerate(LINES))).encode()


def csv_body() -> bytes:
    return ("text,id\n" + "".join(f'"{t}",{i}\n' for i, t in enumerate(LINES))).encode()


@pytest.mark.parametrize("ext", list(COMPRESSORS))
@pytest.mark.parametrize(
    ("name", "body"), [("a.txt", txt_body), ("a.jsonl", jsonl_body), ("a.tsv", tsv_body), ("a.csv", csv_body)]
)
def test_every_format_and_compression(tmp_path, name, body, ext):
    path = tmp_path / (name + ext)
    path.write_bytes(COMPRESSORS[ext](body()))
    df, result = read_all(path)
    assert df.get_column("text").to_list() == LINES
    assert df.get_column("line").to_list() == list(range(1, len(LINES) + 1))
    assert df.get_column("reason").null_count() == len(LINES)
    assert result.damage is None


def test_parquet_rows_nulls_and_numbering(tmp_path):
    path = tmp_path / "a.parquet"
    pl.DataFrame({"other": [1, 2, 3, 4], "text": ["a", None, "c", "d"]}).write_parquet(path, row_group_size=2)
    df, _ = read_all(path)
    assert df.get_column("line").to_list() == [1, 2, 3, 4]
    assert df.get_column("reason").to_list() == [None, "ingest:empty", None, None]
    with pytest.raises(SourceFormatError, match="no column 'body'"):
        read_all(path, text_field="body")


def test_undecodable_line_is_rejected_and_the_rest_survives(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"good one\nbad \xff\xfe bytes\n\xef\xbb\xbfnot a bom here\nlast")
    df, _ = read_all(path)
    assert df.get_column("reason").to_list() == [None, "ingest:encoding", None, None]
    assert df.get_column("text").to_list()[3] == "last"  # no trailing newline: still a line


def test_bom_crlf_and_control_characters(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbffirst\r\nsec\x00ond  \t line\r\n\r\ne\xcc\x81t\xc3\xa9\r\n")
    df, _ = read_all(path)
    clean = apply_hygiene(df, {"normalization": "NFC"})
    assert clean.get_column("text").to_list() == ["first", "sec ond line", "", "\u00e9t\u00e9"]
    assert clean.get_column("reason").to_list() == [None, None, "ingest:empty", None]


def test_zero_width_joiners_survive_hygiene():
    df = pl.DataFrame(
        {"line": [1], "text": ["می\u200cخواهم"], "reason": [None], "detail": [None]},
        schema={"line": pl.Int64, "text": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8},
    )
    assert apply_hygiene(df, {}).get_column("text")[0] == "می\u200cخواهم"


def _varied_lines(n: int) -> list[str]:
    import random

    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "дельта", "ε", "ζήτα", "η", "θ", "ι", "κάππα", "λ", "μ"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + f" {i}" for i in range(n)]


@pytest.mark.parametrize("ext", [".gz", ".bz2", ".xz", ".zst"])
def test_truncated_compressed_file_keeps_what_was_readable(tmp_path, ext):
    lines = _varied_lines(60000)
    data = COMPRESSORS[ext](("\n".join(lines) + "\n").encode())
    path = tmp_path / f"a.txt{ext}"
    path.write_bytes(data[: len(data) * 2 // 3])
    df, result = read_all(path)
    assert result.damage and "truncated" in result.damage
    assert 0 < df.height < len(lines)
    ok = df.filter(pl.col("reason").is_null())
    assert ok.get_column("text").to_list() == lines[: ok.height]  # every readable line, in order
    assert df.filter(pl.col("reason").is_not_null()).get_column("reason").to_list() in (
        [],
        ["ingest:truncated"],
    )


def test_cut_off_last_line_is_rejected_as_truncated(tmp_path):
    lines = _varied_lines(20000)
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    path = tmp_path / "a.txt.gz"
    for cut in range(len(data) // 2, len(data) // 2 + 50):  # find a cut that ends mid-line
        path.write_bytes(data[:cut])
        df, _ = read_all(path)
        if df.row(-1, named=True)["reason"] == "ingest:truncated":
            break
    else:
        pytest.fail("no cut produced a partial last line")
    assert df.filter(pl.col("reason").is_null()).get_column("text").to_list() == lines[: df.height - 1]


def test_corrupt_file_reports_damage(tmp_path):
    path = tmp_path / "a.txt.gz"
    path.write_bytes(b"this is not gzip data")
    df, result = read_all(path)
    assert df.height == 0 and "corrupt gzip" in result.damage


def test_jsonl_damage_reasons(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'{"text": "ok"}\n{"text": \n{"body": "x"}\n{"text": 5}\n{"text": null}\n\n\xff\n'
        b'{"meta": {"text": "nested"}}\n'
    )
    df, _ = read_all(path)
    assert df.get_column("reason").to_list() == [
        None,
        "ingest:json",
        "ingest:missing_field",
        "ingest:not_text",
        "ingest:empty",
        "ingest:empty",
        "ingest:encoding",
        "ingest:missing_field",
    ]
    nested, _ = read_all(path, text_field="meta.text")
    assert nested.get_column("text").to_list()[-1] == "nested"


def test_csv_quoted_newlines_count_data_rows(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('text,n\n"two\nlines",1\nplain,2\nshort\n', "utf-8")
    df, _ = read_all(path)
    assert df.get_column("line").to_list() == [1, 2, 3]
    assert df.get_column("text").to_list()[:2] == ["two\nlines", "plain"]
    assert df.get_column("reason").to_list()[2] is None  # 'short' is the text column (index 0)


def test_tsv_keeps_quote_characters_and_flags_short_rows(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_bytes(b'id\ttext\n1\t"quoted" text\n2\n3\tbad \xff\n')
    df, _ = read_all(path)
    assert df.get_column("text").to_list()[0] == '"quoted" text'
    assert df.get_column("reason").to_list() == [None, "ingest:missing_field", "ingest:encoding"]


def test_sentence_splitting_knows_many_terminators():
    cases = {
        "hin": ("यह पहला वाक्य है। यह दूसरा है।", 2),
        "amh": ("ይህ አንድ ነው። ይህ ሁለት ነው።", 2),
        "mya": ("ဒါပထမ။ ဒါဒုတိယ။", 2),
        "khm": ("នេះទីមួយ។ នេះទីពីរ។", 2),
        "cmn": ("这是第一句。这是第二句！", 2),
        "arb": ("هذا أول؟ هذا ثاني.", 2),
        "urd": ("یہ پہلا ہے۔ یہ دوسرا ہے۔", 2),
        "eng": ("Mr. Smith went home. He slept.", 2),
    }
    for lang, (text, n) in cases.items():
        assert len(split_sentences(text, lang)) == n, lang


def test_explode_keeps_unreadable_lines_accounted():
    df = pl.DataFrame(
        {
            "line": [1, 2],
            "text": ["One. Two.", None],
            "reason": [None, "ingest:encoding"],
            "detail": [None, None],
        },
        schema={"line": pl.Int64, "text": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8},
    )
    out = explode_sentences(df, "eng")
    assert out.select("line", "sentence").rows() == [(1, 1), (1, 2), (2, 0)]


def test_shipped_nfc_table_matches_this_python():
    from importlib import resources

    from glotforge.corpus.hygiene import characters_not_stable_alone

    text = resources.files("glotforge.corpus").joinpath("data/nfc_unstable.txt").read_text("ascii")
    shipped = [tuple(int(x, 16) for x in line.split("-")) for line in text.split("\n") if line and not line.startswith("#")]
    shipped = [(r[0], r[-1]) for r in shipped]
    assert shipped == characters_not_stable_alone("NFC")


@pytest.mark.parametrize("text", ["e\u0301te\u0301", "\u212bngstr\u00f6m", "\uf900\u8c48", "\u1100\u1161\u11a8",
                                  "क़", "plain ascii", "ä", "\u0958"])
def test_selective_nfc_equals_full_nfc(text):
    import unicodedata

    from glotforge.corpus.hygiene import clean_texts

    assert clean_texts(pl.Series([text]), {}).to_list() == [unicodedata.normalize("NFC", text)]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_with_a_bom_are_transcoded(tmp_path, codec):
    path = tmp_path / "a.txt"
    text = "\n".join(LINES) + "\n"
    bom = {"utf-16": b"", "utf-16-be": b"\xfe\xff", "utf-32": b""}[codec]
    path.write_bytes(bom + text.encode(codec))
    df, _ = read_all(path)
    assert df.get_column("text").to_list() == LINES


def test_declared_legacy_encoding(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("Привет, мир!\nещё строка\n".encode("cp1251"))
    df, _ = read_all(path, encoding="cp1251")
    assert df.get_column("text").to_list() == ["Привет, мир!", "ещё строка"]
    utf8, _ = read_all(path)
    assert utf8.get_column("reason").to_list() == ["ingest:encoding", "ingest:encoding"]


def test_binary_lines_are_rejected_but_stray_controls_are_cleaned(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"Hello\x07 world\n" + "Hello world".encode("utf-16-le") + b"\n\x00\x01\x02\x03abc\n")
    df, _ = read_all(path)
    clean = apply_hygiene(df, {})
    assert clean.get_column("text").to_list()[0] == "Hello world"
    assert clean.get_column("reason").to_list() == [None, "ingest:binary", "ingest:binary"]


def test_single_column_table_needs_no_text_field(tmp_path):
    pq_path = tmp_path / "a.parquet"
    pl.DataFrame({"sentence": ["one", "two"]}).write_parquet(pq_path)
    assert read_all(pq_path)[0].get_column("text").to_list() == ["one", "two"]
    two = tmp_path / "b.parquet"
    pl.DataFrame({"a": ["x"], "b": ["y"]}).write_parquet(two)
    with pytest.raises(SourceFormatError, match="name the column with text_field"):
        read_all(two)

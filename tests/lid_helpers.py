"""Sources for LID build tests: a few bundled sample sources plus one deliberately mislabelled file."""

from __future__ import annotations

from pathlib import Path

from glotforge.corpus.lid_labels import lid176_path  # noqa: F401  (re-exported for the tests)

from build_helpers import SAMPLE_SOURCES
from corpus_fixtures import sample_frame

BUILD_SOURCES = ["eng_Latn.parquet", "fra-Latn.jsonl", "ita_Latn.csv", "aar_Latn.txt", "bos_Cyrl.txt",
                 "cmn_Hans.txt.gz"]


def lid_sources(dest: Path) -> Path:
    """A few sample sources plus `nld_Latn.txt`, a mislabelled source holding German text."""
    dest.mkdir(parents=True)
    for name in BUILD_SOURCES:
        (dest / name).write_bytes((SAMPLE_SOURCES / name).read_bytes())
    german = sample_frame(["deu_Latn"])["text"].to_list()
    (dest / "nld_Latn.txt").write_text("\n".join(german) + "\n", "utf-8")
    return dest


"""Regenerate corpus/data/nfc_unstable.txt: non-mark characters that NFC changes on their own.

    python tools/make_nfc_table.py

The hygiene step skips NFC for lines without such characters (or marks / conjoining jamo); the test
suite checks that the shipped table matches the running Python's Unicode data.
"""

import unicodedata
from pathlib import Path

from glotforge.corpus.hygiene import characters_not_stable_alone

out = Path(__file__).resolve().parent.parent / "corpus" / "data" / "nfc_unstable.txt"
ranges = characters_not_stable_alone("NFC")
lines = [f"# Unicode {unicodedata.unidata_version}: characters (not marks) that NFC changes on their own"]
lines += [f"{a:X}" if a == b else f"{a:X}-{b:X}" for a, b in ranges]
out.write_text("\n".join(lines) + "\n", "ascii")
print(f"{len(ranges)} ranges -> {out}")

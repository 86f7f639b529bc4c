"""Incremental decompression that survives damaged files.

Library readers (`gzip.open` and friends) raise at the first damaged byte and drop whatever they had
decompressed but not yet returned. Crawled sources are often truncated, so we drive the decompressor
objects ourselves: every byte that can be recovered is yielded, and the damage is reported, not raised.
Concatenated members/streams (gzip, bzip2, xz, zstd frames) are followed.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from .storage import as_path

READ_SIZE = 1 << 20

COMPRESSIONS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}


def compression_of(path: str | Path) -> str | None:
    return COMPRESSIONS.get(Path(str(path).rsplit("/", 1)[-1]).suffix.lower())


class _Zstd:
    """Adapter giving zstandard's decompressobj the stdlib interface (eof, unused_data)."""

    def __init__(self) -> None:
        self._obj = zstandard.ZstdDecompressor().decompressobj()

    def decompress(self, data: bytes) -> bytes:
        return self._obj.decompress(data)

    @property
    def eof(self) -> bool:
        return self._obj.eof

    @property
    def unused_data(self) -> bytes:
        return self._obj.unused_data


def _decompressor(kind: str):
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    if kind == "bzip2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor()
    if kind == "zstd":
        return _Zstd()
    raise ValueError(f"unknown compression {kind!r}")


_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, ValueError)


@dataclass
class ByteStream:
    """Iterate over the decompressed bytes of a file; `damage` is set if it ended early or broke."""

    path: Path
    compression: str | None
    start: int = 0  # byte range of an uncompressed chunk
    end: int | None = None
    damage: str | None = field(default=None, init=False)

    def __iter__(self) -> Iterator[bytes]:
        with as_path(self.path).open("rb") as fh:
            if self.compression is None:
                yield from self._range(fh)
                return
            yield from self._decompressed(fh)

    def _range(self, fh) -> Iterator[bytes]:
        if self.start:
            fh.seek(self.start)
        left = None if self.end is None else self.end - self.start
        while left is None or left > 0:
            block = fh.read(READ_SIZE if left is None else min(READ_SIZE, left))
            if not block:
                return
            if left is not None:
                left -= len(block)
            yield block

    def _decompressed(self, fh) -> Iterator[bytes]:
        dec = _decompressor(self.compression)
        started = False
        for buf in iter(lambda: fh.read(READ_SIZE), b""):
            while buf:
                try:
                    data = dec.decompress(buf)
                except _ERRORS as exc:
                    self.damage = f"corrupt {self.compression} data: {exc}"
                    return
                started = True
                if data:
                    yield data
                buf = dec.unused_data if dec.eof else b""
                if dec.eof and buf:
                    if not buf.strip(b"\x00"):  # zero padding after the last member
                        return
                    dec = _decompressor(self.compression)
        if started and not dec.eof:
            self.damage = f"truncated {self.compression} stream (ended before its end marker)"

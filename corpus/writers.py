"""Parquet writing with a fixed schema, fixed row groups, rolling part files and atomic renames.

Outputs must be byte-identical whatever the worker count and after a resume, so rows are buffered
into row groups of a fixed size (independent of how the input happened to be batched), every file is
written under a temporary name and renamed only when complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .schema import conform
from .storage import is_remote, makedirs, parquet_source, replace

ARROW_TYPES = {
    pl.Utf8: pa.string(),
    pl.Int64: pa.int64(),
    pl.Int32: pa.int32(),
    pl.UInt64: pa.uint64(),
    pl.Float64: pa.float64(),
    pl.Float32: pa.float32(),
    pl.Boolean: pa.bool_(),
}


def arrow_schema(schema: dict[str, pl.DataType]) -> pa.Schema:
    return pa.schema([(name, ARROW_TYPES[dtype]) for name, dtype in schema.items()])


def tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_json_atomic(path: Path, data: Any) -> None:
    makedirs(path.parent)
    tmp = tmp_name(path)
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    replace(tmp, path)


def write_frame_atomic(df: pl.DataFrame, path: Path) -> None:
    """One small Parquet file (stats tables), written under a temporary name first."""
    makedirs(path.parent)
    tmp = tmp_name(path)
    with tmp.open("wb") as fh:
        df.write_parquet(fh, compression="zstd")
    replace(tmp, path)


class PartWriter:
    """Write rows to `folder/<prefix>-00000.parquet`, `-00001`, ... with at most `rows_per_part` rows each.

    Nothing appears under the final names until `close()`; a writer that receives no rows creates no file.
    """

    def __init__(self, folder: Path, schema: dict[str, pl.DataType], rows_per_part: int = 1_000_000,
                 row_group_size: int = 100_000, compression: str = "zstd", prefix: str = "part") -> None:
        self.folder = folder
        self.schema = schema
        self.arrow = arrow_schema(schema)
        self.rows_per_part = rows_per_part
        self.row_group_size = min(row_group_size, rows_per_part)
        self.compression = compression
        self.prefix = prefix
        self.rows = 0
        self._buffer: list[pl.DataFrame] = []
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: Any = None  # the open remote file under the writer, if any
        self._in_part = 0
        self._done: list[tuple[Path, Path]] = []

    def _part_path(self, index: int) -> Path:
        return self.folder / f"{self.prefix}-{index:05d}.parquet"

    def write(self, df: pl.DataFrame) -> None:
        if df.height == 0:
            return
        self._buffer.append(conform(df, self.schema))
        self._buffered += df.height
        while self._buffered >= self.row_group_size:
            self._flush(self.row_group_size)

    def _flush(self, n: int) -> None:
        data = pl.concat(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
        head, rest = data.head(n), data.slice(n)
        self._buffer = [rest] if rest.height else []
        self._buffered = rest.height
        while head.height:
            if self._writer is None:
                makedirs(self.folder)
                final = self._part_path(len(self._done))
                tmp = tmp_name(final)
                self._sink = tmp.open("wb") if is_remote(tmp) else None
                self._writer = pq.ParquetWriter(self._sink or str(tmp), self.arrow, compression=self.compression)
                self._done.append((tmp, final))
                self._in_part = 0
            take = min(head.height, self.rows_per_part - self._in_part)
            chunk, head = head.head(take), head.slice(take)
            self._writer.write_table(chunk.to_arrow().cast(self.arrow), row_group_size=self.row_group_size)
            self._in_part += take
            self.rows += take
            if self._in_part >= self.rows_per_part:
                self._close_writer()

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def close(self) -> list[Path]:
        if self._buffered:
            self._flush(self._buffered)
        self._close_writer()
        for tmp, final in self._done:
            replace(tmp, final)
        return [final for _, final in self._done]

    def abort(self) -> None:
        self._close_writer()
        for tmp, _ in self._done:
            if tmp.exists():
                tmp.unlink()


def iter_parquet(path: Path, columns: list[str] | None = None, batch_size: int = 100_000):
    """Stream a Parquet file as polars DataFrames (bounded memory)."""
    pf = pq.ParquetFile(parquet_source(path))
    for rb in pf.iter_batches(batch_size=batch_size, columns=columns):
        yield pl.from_arrow(rb)

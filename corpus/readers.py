"""Readers: turn one source file into batches of raw units, each with its line number.

A reader never drops anything: every physical line (text formats) or data row (tables) comes out as
one row, with `text` set, or `text` null and an `ingest:*` reason saying why it could not be read.
Batches are polars DataFrames with columns `line` (Int64), `text` (Utf8, nullable), `reason` (Utf8,
nullable) and `detail` (Utf8, nullable), so memory stays bounded by the batch size.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import polars as pl
import pyarrow.parquet as pq

from .compression import ByteStream, compression_of
from .storage import as_path, parquet_source

BOM = b"\xef\xbb\xbf"
TRUNCATED = "ingest:truncated"  # the cut-off last line of a damaged compressed file

FORMAT_BY_SUFFIX = {
    ".txt": "txt", ".text": "txt",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".tsv": "tsv", ".tab": "tsv",
    ".csv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
}
FORMATS = ("txt", "jsonl", "tsv", "csv", "parquet")


class SourceFormatError(ValueError):
    """A source whose format or options make no sense (e.g. a compressed Parquet file)."""


def infer_format(path: str | Path) -> tuple[str | None, str | None]:
    """(format, compression) from the file name: `x.jsonl.gz` -> ('jsonl', 'gzip')."""
    name = Path(str(path).rsplit("/", 1)[-1])
    compression = compression_of(name)
    inner = Path(name.stem) if compression else name
    return FORMAT_BY_SUFFIX.get(inner.suffix.lower()), compression


@dataclass(frozen=True)
class ReadOptions:
    format: str
    compression: str | None = None
    text_field: str | int | None = None  # JSON key (dotted path), column name or 0-based index
    header: bool = True  # tsv/csv
    quoting: str | None = None  # tsv/csv: "none" or "minimal"; default none for tsv, minimal for csv
    delimiter: str | None = None
    encoding: str | None = None  # text encoding when not UTF-8 (UTF-16/32 with a BOM are detected)
    byte_start: int = 0  # a chunk of an uncompressed txt/jsonl file: its byte range and the lines before it
    byte_end: int | None = None
    line_offset: int = 0


@dataclass
class ReadResult:
    """Filled while a reader runs: damage found in the file (truncated stream, unreadable table)."""

    damage: str | None = None


def _frame(lines: list[int], texts: list[str | None], reasons: list[str | None],
           details: list[str | None] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {"line": lines, "text": texts, "reason": reasons, "detail": details or [None] * len(lines)},
        schema={"line": pl.Int64, "text": pl.Utf8, "reason": pl.Utf8, "detail": pl.Utf8},
    )


WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
             (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _transcoded(blocks: Iterator[bytes], first: bytes, encoding: str) -> Iterator[bytes]:
    """UTF-16/32 text re-encoded as UTF-8, so the line splitter and decoders see one encoding."""
    dec = codecs.getincrementaldecoder(encoding)(errors="replace")
    yield dec.decode(first).encode("utf-8")
    for block in blocks:
        yield dec.decode(block).encode("utf-8")
    yield dec.decode(b"", final=True).encode("utf-8")


class LineSplitter:
    """Physical lines split on b'\\n' only (as `wc -l` counts them), without the newline; a final
    line without newline is still a line (`unterminated_tail` tells). Other Unicode line breaks stay
    inside the line, so our line numbers match any line-counting tool. A UTF-8 BOM is dropped; a file
    that starts with a UTF-16/32 BOM is transcoded to UTF-8 first (`wide` names the encoding)."""

    def __init__(self, stream: ByteStream):
        self.stream = stream
        self.unterminated_tail = False
        self.wide: str | None = None

    def _blocks(self) -> Iterator[bytes]:
        blocks = iter(self.stream)
        if self.stream.start:  # a chunk after the first: byte-order marks only exist at the start of a file
            yield from blocks
            return
        first = next(blocks, b"")
        while len(first) < 4:  # a BOM can straddle tiny first blocks
            more = next(blocks, None)
            if more is None:
                break
            first += more
        for bom, encoding in WIDE_BOMS:
            if first.startswith(bom):
                self.wide = encoding
                yield from _transcoded(blocks, first, encoding)
                return
        yield first.removeprefix(BOM)
        yield from blocks

    def __iter__(self) -> Iterator[bytes]:
        rest = b""
        for block in self._blocks():
            parts = (rest + block).split(b"\n")
            rest = parts.pop()
            yield from parts
        if rest:
            self.unterminated_tail = True
            yield rest


def iter_raw_lines(stream: ByteStream) -> Iterator[bytes]:
    return iter(LineSplitter(stream))


def _batches_marking_tail(stream: ByteStream, batch_size: int) -> Iterator[tuple[list[bytes], bool]]:
    """Batches of raw lines, each with a flag saying whether its last line is the cut-off end of a damaged
    stream (one batch of lookahead, so the flag is known before the batch is handed out)."""
    splitter = LineSplitter(stream)
    batches = _batched(splitter, batch_size)
    prev = next(batches, None)
    for cur in batches:
        yield prev, False
        prev = cur
    if prev is not None:
        yield prev, bool(stream.damage and splitter.unterminated_tail)


def _batched(it, size: int):
    batch = []
    for item in it:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def decode_lines(raw: list[bytes], encoding: str | None = None) -> list[str | None]:
    """Decode a batch (UTF-8 unless told otherwise); undecodable lines become None. One C-level decode
    in the common case. Other encodings must keep b'\\n' as the newline (Latin-1, CP1251, GB18030, ...)."""
    enc = encoding or "utf-8"
    try:
        return b"\n".join(raw).decode(enc).split("\n")
    except UnicodeDecodeError:
        out: list[str | None] = []
        for line in raw:
            try:
                out.append(line.decode(enc))
            except UnicodeDecodeError:
                out.append(None)
        return out


def read_txt(path: Path, opts: ReadOptions, batch_size: int, result: ReadResult) -> Iterator[pl.DataFrame]:
    stream = ByteStream(path, opts.compression, opts.byte_start, opts.byte_end)
    start = 1 + opts.line_offset
    for raw, cut in _batches_marking_tail(stream, batch_size):
        texts = decode_lines(raw, opts.encoding)
        reasons = [None if t is not None else "ingest:encoding" for t in texts]
        if cut:
            texts[-1], reasons[-1] = None, TRUNCATED
        yield _frame(list(range(start, start + len(raw))), texts, reasons)
        start += len(raw)
    result.damage = stream.damage


def _json_field(obj, path: list[str]):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None, False
        obj = obj[key]
    return obj, True


def _as_utf8(raw: list[bytes], encoding: str) -> list[bytes]:
    """Re-encode lines of another encoding as UTF-8; undecodable ones stay as they are (and are rejected)."""
    out = []
    for line in raw:
        try:
            out.append(line.decode(encoding).encode("utf-8"))
        except UnicodeDecodeError:
            out.append(line)
    return out


def _jsonl_fast(raw: list[bytes], field_path: list[str]) -> list[str] | None:
    """All lines valid JSON objects with a string at a top-level key: the common case, no per-line branching.
    None when anything is off, so the careful per-line path can say what."""
    if len(field_path) != 1:
        return None
    key = field_path[0]
    try:
        values = [orjson.loads(line)[key] for line in raw]
    except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
        return None
    return values if all(type(v) is str for v in values) else None


def _jsonl_line(line: bytes, field_path: list[str]) -> tuple[str | None, str | None, str | None]:
    """(text, reason, detail) for one line, naming exactly what is wrong with it."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return None, "ingest:encoding", None
    if not line.strip():
        return None, "ingest:empty", None
    try:
        value, found = _json_field(orjson.loads(line), field_path)
    except orjson.JSONDecodeError as exc:
        return None, "ingest:json", str(exc)[:120]
    if not found:
        return None, "ingest:missing_field", ".".join(field_path)
    if isinstance(value, str):
        return value, None, None
    if value is None:
        return None, "ingest:empty", None
    return None, "ingest:not_text", type(value).__name__


def read_jsonl(path: Path, opts: ReadOptions, batch_size: int, result: ReadResult) -> Iterator[pl.DataFrame]:
    stream = ByteStream(path, opts.compression, opts.byte_start, opts.byte_end)
    field_path = str(opts.text_field or "text").split(".")
    start = 1 + opts.line_offset
    for raw, cut in _batches_marking_tail(stream, batch_size):
        if opts.encoding:
            raw = _as_utf8(raw, opts.encoding)
        fast = None if cut else _jsonl_fast(raw, field_path)
        if fast is not None:
            texts: list[str | None] = list(fast)
            reasons: list[str | None] = [None] * len(raw)
            details: list[str | None] = [None] * len(raw)
        else:
            texts, reasons, details = (list(col) for col in zip(*(_jsonl_line(line, field_path) for line in raw), strict=True))
        if cut:
            texts[-1], reasons[-1], details[-1] = None, TRUNCATED, None
        yield _frame(list(range(start, start + len(raw))), texts, reasons, details)
        start += len(raw)
    result.damage = stream.damage


def _text_column(path: Path, names: list[str], field: str | None) -> int:
    """Index of the text column: the named one, else `text`, else the only column there is."""
    if field is not None:
        if field not in names:
            raise SourceFormatError(f"{path}: no column {field!r} (columns: {names[:8]})")
        return names.index(field)
    if "text" in names:
        return names.index("text")
    if len(names) == 1:
        return 0
    raise SourceFormatError(f"{path}: no `text` column among {names[:8]}; name the column with text_field")


def _decoded_lines_for_csv(stream: ByteStream, damaged: list[int], encoding: str | None) -> Iterator[str]:
    """Physical lines decoded with surrogateescape, so damage survives csv parsing and is found per row;
    `damaged[0]` counts undecodable lines (rows are only checked when it is non-zero)."""
    enc = encoding or "utf-8"
    for line in iter_raw_lines(stream):
        try:
            yield line.decode(enc) + "\n"
        except UnicodeDecodeError:
            damaged[0] += 1
            yield line.decode(enc, errors="surrogateescape") + "\n"


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _read_unquoted_table(path: Path, opts: ReadOptions, batch_size: int, result: ReadResult,
                         delimiter: str) -> Iterator[pl.DataFrame]:
    """TSV without quoting: every physical line after the header is one data row, split column-wise
    with polars (no per-row Python)."""
    stream = ByteStream(path, opts.compression)
    batches = _batches_marking_tail(stream, batch_size)
    column = opts.text_field if isinstance(opts.text_field, int) else None
    row = 1
    for n, (raw, cut) in enumerate(batches):
        if n == 0 and opts.header:
            if not raw:
                break
            head = (raw[0].decode("utf-8", errors="replace").rstrip("\r")).split(delimiter)
            if column is None:
                column = _text_column(path, [h.strip() for h in head], opts.text_field)
            raw = raw[1:]
        if column is None:
            raise SourceFormatError(f"{path}: without a header, text_field must be a column index")
        texts = pl.Series("raw", decode_lines(raw, opts.encoding), dtype=pl.Utf8)
        fields = texts.str.strip_suffix("\r").str.split(delimiter)
        cols = fields.list.len()
        value = fields.list.get(column, null_on_oob=True)
        df = pl.DataFrame({"line": pl.int_range(row, row + len(raw), eager=True, dtype=pl.Int64), "text": value,
                           "ok": texts.is_not_null(), "blank": texts.str.strip_chars() == "", "cols": cols})
        reason = (pl.when(~pl.col("ok")).then(pl.lit("ingest:encoding"))
                  .when(pl.col("blank")).then(pl.lit("ingest:empty"))
                  .when(pl.col("text").is_null()).then(pl.lit("ingest:missing_field")))
        detail = pl.when(pl.col("ok") & ~pl.col("blank") & pl.col("text").is_null()).then(
            pl.col("cols").cast(pl.Utf8) + pl.lit(" fields"))
        df = df.with_columns(reason.alias("reason"), detail.alias("detail")).with_columns(
            pl.when(pl.col("reason").is_null()).then(pl.col("text")).alias("text"))
        if cut and df.height:
            df = df.with_columns(pl.when(pl.int_range(pl.len()) == df.height - 1).then(pl.lit(TRUNCATED))
                                 .otherwise(pl.col("reason")).alias("reason"))
        yield df.select("line", "text", "reason", "detail")
        row += len(raw)
    result.damage = stream.damage


def read_table_text(path: Path, opts: ReadOptions, batch_size: int, result: ReadResult) -> Iterator[pl.DataFrame]:
    """TSV/CSV: `line` is the 1-based data row (the header is not a row)."""
    is_tsv = opts.format == "tsv"
    delimiter = opts.delimiter or ("\t" if is_tsv else ",")
    quoting_name = opts.quoting or ("none" if is_tsv else "minimal")
    quoting = {"none": csv.QUOTE_NONE, "minimal": csv.QUOTE_MINIMAL}.get(quoting_name)
    if quoting is None:
        raise SourceFormatError(f"{path}: quoting must be 'none' or 'minimal', not {quoting_name!r}")
    if quoting == csv.QUOTE_NONE:
        yield from _read_unquoted_table(path, opts, batch_size, result, delimiter)
        return
    stream = ByteStream(path, opts.compression)
    damaged_lines = [0]
    reader = csv.reader(_decoded_lines_for_csv(stream, damaged_lines, opts.encoding), delimiter=delimiter, quoting=quoting,
                        strict=False)
    field = opts.text_field if opts.text_field is not None else ("text" if opts.header else 0)
    column: int | None = field if isinstance(field, int) else None
    if opts.header:
        header = next(reader, None)
        if header is None:
            result.damage = stream.damage
            return
        if column is None:
            column = _text_column(path, [h.strip().lstrip("\ufeff") for h in header], opts.text_field)
    elif column is None:
        raise SourceFormatError(f"{path}: without a header, text_field must be a column index")
    row_no = 0
    batch: tuple[list, list, list, list] = ([], [], [], [])
    try:
        for row in reader:
            row_no += 1
            text, reason, detail = None, None, None
            if column >= len(row):
                reason = "ingest:empty" if not any(row) else "ingest:missing_field"
                detail = None if not any(row) else f"{len(row)} fields"
            elif damaged_lines[0] and _has_surrogates(row[column]):
                reason = "ingest:encoding"
            else:
                text = row[column]
            batch[0].append(row_no)
            batch[1].append(text)
            batch[2].append(reason)
            batch[3].append(detail)
            if len(batch[0]) >= batch_size:
                yield _frame(*batch)
                batch = ([], [], [], [])
    except csv.Error as exc:
        result.damage = f"csv parse error after data row {row_no}: {exc}"
    if batch[0]:
        yield _frame(*batch)
    result.damage = result.damage or stream.damage


def read_parquet(path: Path, opts: ReadOptions, batch_size: int, result: ReadResult) -> Iterator[pl.DataFrame]:
    """Parquet: `line` is the 1-based row number; null or non-string values are rejected, not skipped."""
    if opts.compression:
        raise SourceFormatError(f"{path}: Parquet files are compressed inside; drop the {opts.compression} layer")
    try:
        pf = pq.ParquetFile(parquet_source(as_path(path)))
    except Exception as exc:  # pyarrow raises several types for non-Parquet bytes
        result.damage = f"unreadable Parquet file: {exc}"
        return
    names = pf.schema_arrow.names
    field = opts.text_field
    if isinstance(field, int):
        if field >= len(names):
            raise SourceFormatError(f"{path}: no column {field} (columns: {names[:8]})")
        field = names[field]
    else:
        field = names[_text_column(path, names, field)]
    start = 1
    try:
        for rb in pf.iter_batches(batch_size=batch_size, columns=[field]):
            series = pl.from_arrow(rb.column(0))
            if series.dtype == pl.Binary:
                series = series.cast(pl.Utf8, strict=False)  # invalid UTF-8 becomes null below
                missing_reason = "ingest:encoding"
            elif series.dtype != pl.Utf8:
                missing_reason = "ingest:not_text"
                series = pl.Series([None] * len(series), dtype=pl.Utf8)
            else:
                missing_reason = "ingest:empty"
            n = len(series)
            df = pl.DataFrame({"line": pl.int_range(start, start + n, eager=True, dtype=pl.Int64), "text": series})
            df = df.with_columns(
                pl.when(pl.col("text").is_null()).then(pl.lit(missing_reason)).otherwise(None).alias("reason"),
                pl.lit(None, dtype=pl.Utf8).alias("detail"),
            )
            yield df
            start += n
    except Exception as exc:  # a damaged row group: keep what was read, record the damage
        result.damage = f"damaged Parquet data after row {start - 1}: {exc}"


READERS = {
    "txt": read_txt,
    "jsonl": read_jsonl,
    "tsv": read_table_text,
    "csv": read_table_text,
    "parquet": read_parquet,
}


def read_source(path: Path, opts: ReadOptions, batch_size: int, result: ReadResult) -> Iterator[pl.DataFrame]:
    try:
        reader = READERS[opts.format]
    except KeyError:
        raise SourceFormatError(f"{path}: unknown format {opts.format!r} (known: {', '.join(FORMATS)})") from None
    return reader(path, opts, batch_size, result)

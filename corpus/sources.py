"""Source discovery: a TOML manifest or a directory becomes an ordered list of `SourceSpec`s.

Each source gets a Glot label at planning time: from the manifest's `language`, else from the file
or folder name (`eng_Latn.txt`, `sr-Cyrl.tsv`, `yor/part1.txt`); when the tag has no script, the
dominant script of the first lines decides it. Errors name the source and the problem in one line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .labels import UNKNOWN_SCRIPT, Label, LabelError, parse_label
from .readers import FORMATS, ReadOptions, infer_format
from .storage import as_path, glob_files, is_readable_file, location, relative

MANIFEST_KEYS = {
    "path", "format", "compression", "text_field", "language", "name", "licence", "license", "url",
    "priority", "split", "keep_label", "header", "quoting", "delimiter", "encoding",
}


# Files that sit beside data without being data; not worth a warning.
IGNORED_NAMES = {"readme", "readme.md", "readme.txt.md", "license", "licence", "manifest.toml", "sources.toml",
                 ".ds_store", "checksums", "sha256sums", "md5sums"}
# Documentation that often comes as .txt next to the data: never a source in directory mode.
DOC_STEMS = {"readme", "license", "licence", "copying", "notice", "changelog", "citation", "authors", "sources"}


class SourceError(ValueError):
    """A user error about the sources: missing file, bad manifest entry, unknown language, ..."""


@dataclass(frozen=True)
class SourceSpec:
    path: str  # absolute path
    rel: str  # POSIX path relative to the manifest folder / input directory (the `source` column)
    format: str
    compression: str | None
    declared: str  # the language tag as declared (manifest, file or folder name)
    label: str  # resolved `xxx_Scrp`
    text_field: str | int | None = None
    name: str | None = None
    licence: str | None = None
    url: str | None = None
    priority: int = 0
    split: bool = False
    header: bool = True
    quoting: str | None = None
    delimiter: str | None = None
    prior_rejected: str | None = None  # `glot run`: the input corpus's rejected rows of this label
    encoding: str | None = None
    # A chunk of a large uncompressed text source: bytes [byte_start, byte_end), first line = line_offset + 1.
    chunk: int = 0
    byte_start: int = 0
    byte_end: int | None = None
    line_offset: int = 0

    @property
    def shard_key(self) -> str:
        """Unique per shard: the source path, plus the chunk number for chunks after the first."""
        return self.rel if self.chunk == 0 else f"{self.rel}#{self.chunk}"

    def read_options(self) -> ReadOptions:
        return ReadOptions(self.format, self.compression, self.text_field, self.header, self.quoting, self.delimiter,
                           self.encoding, self.byte_start, self.byte_end, self.line_offset)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _name_candidates(rel: Path) -> Iterator[str]:
    """Language tags a path may carry: the file name without extensions, then folders, innermost first."""
    yield rel.name.split(".")[0]
    yield from reversed(rel.parent.parts)


def _label_from_name(rel: Path, keep_unknown: bool) -> tuple[str, Label]:
    """The first name part that is a language tag with a script; else the first that is a tag at all
    (`spa_Latn/042-000.txt` is Spanish in Latin script, not a tag '042')."""
    parsed = []
    for candidate in _name_candidates(rel):
        try:
            label = parse_label(candidate, keep_unknown=keep_unknown)
        except LabelError:
            continue
        if label.script:
            return candidate, label
        parsed.append((candidate, label))
    if parsed:
        return parsed[0]
    raise SourceError(f"{rel.as_posix()}: no language code in the file or folder name "
                      "(name files like eng_Latn.txt, sr-Cyrl.tsv or yor/part1.txt, or use a manifest)")


def _resolve_script(spec_kwargs: dict[str, Any], label: Label, sample_lines: int) -> str:
    if label.script:
        return str(label)
    from .scripts import dominant_script  # the script stage's own table decides

    texts = sample_texts(as_path(spec_kwargs["path"]), ReadOptions(
        spec_kwargs["format"], spec_kwargs["compression"], spec_kwargs.get("text_field"),
        spec_kwargs.get("header", True), spec_kwargs.get("quoting"), spec_kwargs.get("delimiter"),
        spec_kwargs.get("encoding")), sample_lines)
    return str(label.with_script(dominant_script(texts) or UNKNOWN_SCRIPT))


def sample_texts(path: Path, opts: ReadOptions, n: int) -> list[str]:
    """The first `n` readable units of a source (for script detection)."""
    from .readers import ReadResult, read_source

    out: list[str] = []
    for batch in read_source(path, opts, max(n, 1), ReadResult()):
        out.extend(t for t in batch.get_column("text").to_list() if t)
        if len(out) >= n:
            break
    return out[:n]


def _encoding(name: str | None, rel: str) -> str | None:
    """A codec that keeps b'\\n' as the line break (UTF-16/32 files are recognised by their BOM instead)."""
    if name is None:
        return None
    import codecs

    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise SourceError(f"{rel}: unknown encoding {name!r}") from None
    if codec.startswith(("utf-16", "utf-32")):
        raise SourceError(f"{rel}: {name} files are read through their byte-order mark; drop `encoding`")
    return None if codec == "utf-8" else codec


def _make_spec(path: Path, root: Path, entry: dict[str, Any], ingest: dict[str, Any]) -> SourceSpec:
    rel = relative(path, root)
    fmt, compression = infer_format(path)
    fmt = entry.get("format") or fmt
    compression = entry.get("compression", compression)
    if fmt not in FORMATS:
        raise SourceError(f"{rel}: unknown format {fmt!r}; set `format` to one of {', '.join(FORMATS)}")
    if not is_readable_file(path):
        raise SourceError(f"{rel}: not a readable file")
    keep_unknown = bool(entry.get("keep_label", ingest.get("keep_unknown_labels", False)))
    declared = entry.get("language")
    try:
        if declared:
            label = parse_label(str(declared), keep_unknown=keep_unknown)
        else:
            declared, label = _label_from_name(Path(rel), keep_unknown)
    except LabelError as exc:
        raise SourceError(f"{rel}: {exc}") from None
    kwargs: dict[str, Any] = {
        "path": location(path), "rel": rel, "format": fmt, "compression": compression, "declared": str(declared),
        "text_field": entry.get("text_field"), "name": entry.get("name"),
        "licence": entry.get("licence", entry.get("license")), "url": entry.get("url"),
        "priority": int(entry.get("priority", 0)),
        "split": bool(entry.get("split", ingest.get("split_sentences", False))),
        "header": bool(entry.get("header", True)), "quoting": entry.get("quoting"),
        "delimiter": entry.get("delimiter"), "encoding": _encoding(entry.get("encoding"), rel),
    }
    kwargs["label"] = _resolve_script(kwargs, label, int(ingest.get("script_sample_lines", 2000)))
    return SourceSpec(**kwargs)


def discover_directory(root: Path, ingest: dict[str, Any], exclude: Path | None = None,
                       skipped: list[str] | None = None) -> list[SourceSpec]:
    """Every data file under `root` (hidden files and folders aside); files of no known format are
    listed in `skipped` so that the build can say what it did not read."""
    files = []
    skip = location(exclude).rstrip("/") + "/" if exclude is not None else None
    for path in sorted(root.rglob("*"), key=str):
        rel = Path(relative(path, root))
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if skip is not None and location(path).startswith(skip):
            continue
        fmt, _ = infer_format(path)
        if fmt is None or path.name.split(".")[0].lower() in DOC_STEMS:
            if skipped is not None and path.name.lower() not in IGNORED_NAMES:
                skipped.append(rel.as_posix())
            continue
        files.append(path)
    if not files:
        raise SourceError(f"{root}: no source files found (.txt, .jsonl, .tsv, .csv, .parquet, optionally compressed)")
    return [_make_spec(p, root, {}, ingest) for p in files]


def read_manifest(manifest: Path, ingest: dict[str, Any]) -> list[SourceSpec]:
    try:
        data = tomllib.loads(manifest.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{manifest}: not a valid TOML manifest ({exc})") from None
    entries = data.get("source", data.get("sources"))
    if not isinstance(entries, list) or not entries:
        raise SourceError(f"{manifest}: no [[source]] entries")
    defaults = data.get("defaults", {})
    root = as_path(location(manifest.parent))
    specs: dict[str, SourceSpec] = {}
    for i, raw in enumerate(entries, 1):
        entry = {**defaults, **raw}
        unknown = set(entry) - MANIFEST_KEYS
        if unknown:
            raise SourceError(f"{manifest}: source #{i} has unknown keys {sorted(unknown)}")
        if "path" not in entry:
            raise SourceError(f"{manifest}: source #{i} has no `path`")
        matches = glob_files(root, str(entry["path"]))
        if not matches:
            raise SourceError(f"{manifest}: source #{i}: no file matches {entry['path']!r}")
        for path in matches:
            spec = _make_spec(path, root, entry, ingest)
            specs.setdefault(spec.rel, spec)  # the first entry naming a file wins
    return sorted(specs.values(), key=lambda s: s.rel)


def discover_sources(sources: Path, ingest: dict[str, Any], exclude: Path | None = None,
                     skipped: list[str] | None = None) -> tuple[Path, list[SourceSpec]]:
    """(root folder that `source` paths are relative to, specs sorted by relative path)."""
    if not sources.exists():
        raise SourceError(f"{sources}: no such file or directory")
    if sources.is_dir():
        root = as_path(location(sources))
        return root, discover_directory(root, ingest, exclude, skipped)
    if sources.suffix.lower() == ".toml":
        return as_path(location(sources.parent)), read_manifest(sources, ingest)
    raise SourceError(f"{sources}: expected a directory of sources or a .toml manifest")

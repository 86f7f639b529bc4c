"""Build plans: which sources, which stages, where, and a fingerprint that ties markers to them.

The plan is computed once by the driver and shipped (in pieces) to tasks. Its fingerprint covers the
recipe, the stage list and each source's identity (path, size, mtime), so a `--resume` run never
trusts markers written for other inputs or settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from glotforge.corpus.sources import SourceSpec, discover_sources
from glotforge.corpus.stages import REGISTRY, build_stage
from glotforge.corpus.storage import (
    as_path,
    identity,
    is_remote,
    location,
    makedirs,
    parquet_source,
    remove_tree,
)

from .recipe import RecipeError, fingerprint

OUTPUT_DIRS = ("corpus", "rejected", "stats", "_work")
PLAN_VERSION = 1


class OutputDirError(ValueError):
    """OUT holds something we must not overwrite without being told."""


def shard_id(key: str) -> str:
    """Folder/marker name of a shard (`SourceSpec.shard_key`: the source path, `#N` for later chunks)."""
    return hashlib.sha1(key.encode()).hexdigest()[:16]


CHUNKABLE = ("txt", "jsonl")


def _chunk_bounds(path: Path, chunk_bytes: int) -> list[tuple[int, int, int]]:
    """(start, end, lines before start) of pieces of at least chunk_bytes that end just after a newline,
    found in one streaming pass that also counts each piece's lines."""
    bounds: list[tuple[int, int, int]] = []
    start = lines_before = lines = pos = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            i = 0
            while True:
                at = max(start + chunk_bytes - 1 - pos, i)  # first byte a cutting newline may sit on
                cut = block.find(b"\n", at) if at < len(block) else -1
                if cut < 0:
                    break
                lines += block.count(b"\n", i, cut + 1)
                bounds.append((start, pos + cut + 1, lines_before))
                lines_before, lines = lines_before + lines, 0
                start, i = pos + cut + 1, cut + 1
            lines += block.count(b"\n", i)
            pos += len(block)
    if start < pos or not bounds:
        bounds.append((start, pos, lines_before))
    return bounds


def split_large_sources(specs: list[SourceSpec], chunk_bytes: int) -> list[SourceSpec]:
    """Uncompressed local txt/jsonl sources over `chunk_bytes` become several shards (byte ranges cut at
    line ends, with their line offsets), so one huge file is read by several workers. Compressed streams
    cannot be entered in the middle and stay whole."""
    out: list[SourceSpec] = []
    for spec in specs:
        path = as_path(spec.path)
        if (chunk_bytes <= 0 or spec.compression or spec.format not in CHUNKABLE
                or is_remote(path) or path.stat().st_size <= chunk_bytes):
            out.append(spec)
            continue
        with open(path, "rb") as fh:
            if fh.read(4).startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
                out.append(spec)  # UTF-16/32: transcoded as a whole
                continue
        for k, (start, end, before) in enumerate(_chunk_bounds(path, chunk_bytes)):
            out.append(replace(spec, chunk=k, byte_start=start, byte_end=end, line_offset=before))
    return out


@dataclass(frozen=True)
class Plan:
    out: str
    root: str
    recipe: dict[str, Any]
    line_stages: tuple[str, ...]
    label_stages: tuple[str, ...]
    annotations: dict[str, Any]
    sources: tuple[SourceSpec, ...]
    fingerprint: str
    skipped_stages: tuple[str, ...] = field(default=())
    input_stats: str | None = None  # `glot run`: the built corpus this plan reads
    skipped_files: tuple[str, ...] = ()  # directory mode: files of no known format, not read

    @property
    def out_path(self) -> Path:
        return as_path(self.out)

    def sources_of(self, label: str) -> list[SourceSpec]:
        """The label's sources in canonical order: priority (high first), then path."""
        return sorted((s for s in self.sources if s.label == label), key=lambda s: (-s.priority, s.rel, s.chunk))

    @property
    def labels(self) -> list[str]:
        return sorted({s.label for s in self.sources})


def resolve_stages(recipe: dict[str, Any], stages: list[str] | None) -> tuple[list[str], list[str], dict, list[str]]:
    """Split the requested stages into line and label stages (line stages always run first, in order)."""
    names = list(stages if stages is not None else recipe.get("build", {}).get("stages", []))
    line, label, skipped = [], [], []
    annotations: dict[str, Any] = {}
    for name in names:
        if name == "ingest":
            continue
        if name not in REGISTRY:
            raise RecipeError(f"unknown stage {name!r} in build.stages (known: {', '.join(sorted(REGISTRY))})")
        cls = REGISTRY[name].load()
        cfg = recipe.get(name, {})
        enabled = getattr(cls, "enabled", None)
        if enabled is not None and not enabled(cfg):
            skipped.append(name)
            continue
        stage = build_stage(name, cfg)
        check = getattr(stage, "check", None)  # e.g. load the LID model now, not in every worker
        if check is not None:
            try:
                check()
            except (OSError, ValueError, RuntimeError) as exc:
                raise RecipeError(f"stage {name}: {exc}") from None
        (label if stage.scope == "label" else line).append(name)
        annotations.update(stage.annotations)
    return line, label, annotations, skipped


def _source_identity(spec: SourceSpec) -> list[Any]:
    return [spec.rel, *identity(as_path(spec.path))]


def make_plan(sources: Path, out: Path, recipe: dict[str, Any], stages: list[str] | None = None) -> Plan:
    skipped: list[str] = []
    root, specs = discover_sources(sources, recipe.get("ingest", {}), exclude=out, skipped=skipped)
    specs = split_large_sources(specs, int(recipe.get("build", {}).get("chunk_bytes", 64 << 20)))
    line, label, annotations, skipped_stages = resolve_stages(recipe, stages)
    ident = {
        "version": PLAN_VERSION,
        "recipe": recipe,
        "stages": [line, label],
        "sources": [_source_identity(s) for s in specs],
        "specs": [s.to_dict() | {"path": None} for s in specs],
    }
    return Plan(location(out), location(root), recipe, tuple(line), tuple(label),
                {k: str(v) for k, v in annotations.items()}, tuple(specs), fingerprint(ident), tuple(skipped_stages),
                skipped_files=tuple(skipped))


def annotation_schema(plan: Plan) -> dict[str, pl.DataType]:
    lookup = {str(t): t for t in (pl.Utf8, pl.Float32, pl.Float64, pl.Int32, pl.Int64, pl.Boolean, pl.UInt64)}
    return {name: lookup[dtype] for name, dtype in plan.annotations.items()}


def prepare_output(out: Path, plan: Plan, resume: bool, force: bool) -> None:
    """Make OUT ready: fresh, forced clean, or checked for a matching interrupted run."""
    plan_file = out / "_work" / "plan.json"
    existing = [d for d in OUTPUT_DIRS if (out / d).exists()]
    if force:
        for d in existing:
            remove_tree(out / d)
    elif resume:
        if plan_file.exists():
            old = json.loads(plan_file.read_text("utf-8")).get("fingerprint")
            if old != plan.fingerprint:
                raise OutputDirError(f"{out}: the sources or recipe changed since that build; use --force to rebuild")
    elif existing:
        raise OutputDirError(f"{out}: already holds a build; use --resume to continue it or --force to rebuild")
    makedirs(out / "_work" / "done")
    from glotforge.corpus.writers import write_json_atomic

    write_json_atomic(plan_file, {"fingerprint": plan.fingerprint, "sources": len(plan.sources)})


def _corpus_annotations(corpus: Path) -> dict[str, Any]:
    """Annotation columns already present in a built corpus (kept beside the new stages' columns)."""
    import pyarrow.parquet as pq

    from glotforge.corpus.schema import CORE_SCHEMA

    files = sorted((corpus / "corpus").rglob("*.parquet"))
    if not files:
        return {}
    schema = pl.from_arrow(pq.ParquetFile(parquet_source(files[0])).schema_arrow.empty_table()).schema
    return {name: str(dtype) for name, dtype in schema.items() if name not in CORE_SCHEMA}


def _corpus_shards(corpus: Path, label: str) -> list[SourceSpec]:
    """One shard per part file of a label (chunks of one source `corpus/<label>`, in part order), so a
    large label is read by many map tasks and deduplicated in many slices; the label's earlier rejected
    rows ride with the first chunk. A label with one part (or none) is one shard reading its folder."""
    folder = corpus / "corpus" / label
    whole = SourceSpec(path=location(folder), rel=f"corpus/{label}", format="corpus", compression=None,
                       declared=label, label=label, prior_rejected=location(corpus / "rejected" / label))
    parts = sorted(folder.glob("part-*.parquet")) if folder.exists() else []
    if len(parts) <= 1:
        return [whole]
    return [replace(whole, path=location(part), chunk=k, prior_rejected=whole.prior_rejected if k == 0 else None)
            for k, part in enumerate(parts)]


def make_run_plan(corpus: Path, out: Path, recipe: dict[str, Any], stages: list[str]) -> tuple[Plan, list[dict], dict]:
    """Plan for `glot run`: one shard per label of a built corpus; sources and their first counts come
    from its stats/sources.json."""
    from glotforge.corpus.sources import SourceError

    stats_file = corpus / "stats" / "sources.json"
    if not stats_file.exists():
        raise SourceError(f"{corpus}: not a built corpus (no stats/sources.json); build it with `glot build` first")
    if location(corpus) == location(out):
        raise OutputDirError(f"{out}: write the result to another folder than its input")
    sources = json.loads(stats_file.read_text("utf-8"))
    line, label, annotations, skipped = resolve_stages(recipe, stages)
    merged = {**_corpus_annotations(corpus), **{k: str(v) for k, v in annotations.items()}}
    labels = sorted({p.name for kind in ("corpus", "rejected") if (corpus / kind).exists()
                     for p in (corpus / kind).iterdir() if p.is_dir()})
    shards = tuple(spec for lab in labels for spec in _corpus_shards(corpus, lab))
    specs = [{**{k: s.get(k) for k in ("label", "declared", "format", "compression", "priority", "licence",
                                       "url", "name")}, "rel": s["source"]} for s in sources]
    prior = {s["source"]: {"lines": s["lines"], "units": s["units"], "damage": s.get("damage")} for s in sources}
    ident = {"version": PLAN_VERSION, "recipe": recipe, "stages": [line, label], "input": location(corpus),
             "input_stats": hashlib.sha1(stats_file.read_bytes()).hexdigest()}
    plan = Plan(location(out), location(corpus), recipe, tuple(line), tuple(label), merged, shards,
                fingerprint(ident), tuple(skipped), location(corpus))
    return plan, specs, prior

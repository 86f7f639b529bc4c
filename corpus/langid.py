"""The `langid` line stage: fastText language identification against each line's declared label.

Any fastText LID model works (GlotLID, OpenLID, lid.176, or one made by `glot lid train`), from a local
path or a hub reference `hf://owner/repo[@revision]/path/to/model.bin`. The stage annotates every line
with `lid_label` / `lid_score` (and optionally the top-k), and rejects a line as `langid:mismatch`
only when all of these hold (the lesson of anchors.md: a model that cannot name a language must not
be allowed to reject it):

* the model *knows* the declared label (it can name the language, itself or via its macrolanguage, in
  that script) — lines of unknown labels are kept and reported as unverified by the audit;
* it predicts a label that is not the declared one nor in one of its groups (macrolanguage members,
  close varieties: see `lid_labels.py`);
* the predicted score is ≥ the threshold (per label / per script overridable, GlotLID's advice);
* the line has at least `min_chars` characters (LID on very short text is unreliable);
* the stage runs in `mode = "filter"` (`"flag"` annotates only).

The fastText model is never pickled: it is loaded lazily in each worker process and cached per
process in `_MODELS`, keyed by the resolved path.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import polars as pl

from .lid_labels import LabelGroups, ModelLabel, map_model_label

REASON = "langid:mismatch"


class LangIdError(RuntimeError):
    """A model that cannot be found, downloaded or loaded; the message says what to do."""


# --- model resolution and loading -------------------------------------------------------------


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _hub_endpoint() -> str:
    try:
        from huggingface_hub import constants

        default = constants.ENDPOINT
    except ImportError:
        default = "https://huggingface.co"
    return os.environ.get("HF_ENDPOINT", default).rstrip("/")


def parse_hub_ref(ref: str) -> tuple[str, str, str | None]:
    """`hf://owner/repo[@rev]/path/file.bin` → (repo_id, filename, revision)."""
    parts = ref[len("hf://"):].strip("/").split("/")
    if len(parts) < 3 or not all(parts):
        raise LangIdError(f"{ref}: expected hf://owner/repo[@revision]/path/to/model.bin")
    repo, _, revision = parts[1].partition("@")
    return f"{parts[0]}/{repo}", "/".join(parts[2:]), revision or None


def _download(ref: str, timeout: float) -> Path:
    """Fetch a hub file through huggingface_hub's cache; never hang when there is no network.

    The cache is tried first (works offline); then, unless HF_HUB_OFFLINE is set, a plain TCP connect
    to the endpoint with `timeout` decides quickly whether a download can work at all, because
    huggingface_hub itself retries for about 25 s before it gives up on a missing network.
    """
    repo_id, filename, revision = parse_hub_ref(ref)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise LangIdError(f"{ref}: hub models need huggingface_hub (pip install 'glotforge[hub]'), "
                          "or download the file and give its local path") from None
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, local_files_only=True))
    except Exception:
        pass  # not cached yet
    hint = ("download it on a machine with network (huggingface-cli download "
            f"{repo_id} {filename}) and pass the local path, or fill the hub cache (HF_HOME)")
    if _env_true("HF_HUB_OFFLINE"):
        raise LangIdError(f"{ref}: not in the local hub cache and HF_HUB_OFFLINE is set; {hint}")
    endpoint = _hub_endpoint()
    url = urlparse(endpoint)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise LangIdError(f"{ref}: offline? cannot reach {host}:{port} ({exc}) and the model is not in "
                          f"the local hub cache; {hint}") from None
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, etag_timeout=timeout,
                                    endpoint=endpoint))
    except Exception as exc:
        raise LangIdError(f"{ref}: download failed ({type(exc).__name__}: {str(exc)[:200]}); {hint}") from None


def resolve_model(ref: str | os.PathLike, timeout: float = 10.0) -> Path:
    """A local path or an `hf://` reference → an existing local file."""
    ref = str(ref)
    if ref.startswith("hf://"):
        return _download(ref, timeout)
    path = Path(ref).expanduser()
    if not path.is_file():
        raise LangIdError(f"langid model {ref}: file not found (give a path or hf://owner/repo/file.bin)")
    return path


@dataclass
class LidModel:
    """A loaded fastText model with its labels parsed once."""

    path: str
    model: Any
    labels: list[ModelLabel] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_raw = {m.raw: m for m in self.labels}

    def predict(self, texts: list[str] | pl.Series, k: int = 1) -> tuple[list[list[str]], list[np.ndarray]]:
        """Batch prediction through fastText's `multilinePredict` (one C++ call per batch; the Python
        wrapper's per-line checks cost about a fifth of the time). Texts must not contain newlines."""
        lines = (texts + "\n").to_list() if isinstance(texts, pl.Series) else [t + "\n" for t in texts]
        return self.model.f.multilinePredict(lines, k, 0.0, "replace")

    def top1(self, labels: list[list[str]], probs: list[np.ndarray], k: int) -> tuple[list[str | None], pl.Series]:
        """Top label (raw) and its score per line from `predict` output; None / null for lines without
        any token (fastText returns nothing for them)."""
        top = [lab[0] if lab else None for lab in labels]
        flat = np.concatenate(probs) if probs else np.zeros(0, dtype=np.float32)
        if flat.size == len(probs) * k:  # every line got k scores: vectorised path
            scores = pl.Series(np.minimum(flat.reshape(-1, k)[:, 0], 1.0).astype(np.float32))
        else:
            scores = pl.Series([min(float(p[0]), 1.0) if len(p) else None for p in probs], dtype=pl.Float32)
        return top, scores


_MODELS: dict[tuple[str, tuple], LidModel] = {}
_LOCK = threading.Lock()


def load_model(ref: str | os.PathLike, *, aliases: dict[str, str] | None = None,
               label_map: dict[str, str] | None = None, timeout: float = 10.0) -> LidModel:
    """Load (once per process) a fastText LID model and parse its labels."""
    path = str(resolve_model(ref, timeout))
    key = (path, tuple(sorted((aliases or {}).items())), tuple(sorted((label_map or {}).items())))
    with _LOCK:
        cached = _MODELS.get(key)
        if cached is not None:
            return cached
        try:
            import fasttext
        except ImportError:
            raise LangIdError("the langid stage needs fastText: pip install fasttext-numpy2-wheel") from None
        try:
            # fasttext prints a deprecation warning to stderr on load_model; it is harmless.
            model = fasttext.load_model(path)
        except Exception as exc:
            raise LangIdError(f"langid model {path}: not a fastText model ({exc})") from None
        if not model.is_quantized() and model.get_dimension() <= 0:  # pragma: no cover - sanity
            raise LangIdError(f"langid model {path}: empty model")
        labels = [map_model_label(lab, aliases, label_map) for lab in model.get_labels()]
        lid = LidModel(path, model, labels)
        _MODELS[key] = lid
        return lid


# --- the stage --------------------------------------------------------------------------------


@dataclass
class LangIdConfig:
    """Recipe table `[langid]`; defaults live here and are mirrored in recipes/default.toml."""

    model: str = ""
    mode: str = "filter"  # "filter" | "flag"
    threshold: float = 0.5
    min_chars: int = 20
    top_k: int = 1
    groups_file: str = ""
    groups: list[list[str]] = field(default_factory=list)
    iso_macrolanguages: bool = True
    label_map: dict[str, str] = field(default_factory=dict)
    hub_timeout: float = 10.0
    by_label: dict[str, dict] = field(default_factory=dict)
    by_script: dict[str, dict] = field(default_factory=dict)
    audit_share: float = 0.5  # lid_audit: flag a source when this share of judged lines goes elsewhere
    audit_min_lines: int = 20

    @classmethod
    def from_dict(cls, config: dict | None) -> LangIdConfig:
        config = dict(config or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"[langid]: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        cfg = cls(**config)
        if cfg.mode not in {"filter", "flag"}:
            raise ValueError(f"[langid] mode = {cfg.mode!r}: expected 'filter' or 'flag'")
        if cfg.top_k < 1:
            raise ValueError("[langid] top_k must be ≥ 1")
        return cfg

    def setting(self, label: str, key: str) -> Any:
        """Per-label value: `by_label.<label>` beats `by_script.<Script>` beats the default."""
        script = label.partition("_")[2]
        for table in (self.by_label.get(label, {}), self.by_script.get(script, {})):
            if key in table:
                return table[key]
        return getattr(self, key)


class LangIdStage:
    """LineStage `langid` (docs/architecture.md). All rows of a batch share one declared label."""

    name = "langid"
    scope = "line"
    annotations: dict[str, pl.DataType] = {"lid_label": pl.Utf8, "lid_score": pl.Float32}

    def __init__(self, config: dict | None = None) -> None:
        self.config = LangIdConfig.from_dict(config)
        self.annotations = dict(LangIdStage.annotations)
        if self.config.top_k > 1:
            # Utf8 "eng_Latn:0.961 sco_Latn:0.021": every file of a build shares one flat schema
            self.annotations["lid_topk"] = pl.Utf8
        self._groups: LabelGroups | None = None
        self._known: dict[str, bool] = {}

    @staticmethod
    def enabled(config: dict | None) -> bool:
        """False when no model is configured: the runner then skips the stage."""
        return bool(str((config or {}).get("model", "")).strip())

    def check(self) -> None:
        """Resolve and load the model now (download if `hf://`), so that a wrong path or an offline hub
        fails the build at planning time with one LangIdError line, not inside every worker."""
        self.model()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_groups"], state["_known"] = None, {}  # rebuilt lazily in the worker
        return state

    @property
    def groups(self) -> LabelGroups:
        if self._groups is None:
            c = self.config
            self._groups = LabelGroups(c.groups_file or None, c.groups, c.iso_macrolanguages)
        return self._groups

    def model(self) -> LidModel:
        if not self.config.model:
            raise LangIdError("[langid] model is empty: set langid.model or leave the stage out")
        return load_model(self.config.model, aliases=self.groups.aliases,
                          label_map=self.config.label_map, timeout=self.config.hub_timeout)

    def knows(self, label: str) -> bool:
        """Can the model name this declared label? (cached per label)"""
        if label not in self._known:
            self._known[label] = self.groups.knows(self.model().labels, label)
        return self._known[label]

    def predict(self, texts: pl.Series, declared: str) -> pl.DataFrame:
        """Predict a batch: columns lid_label (Glot label), lid_score, same (agrees with `declared`)
        and, with top_k > 1, lid_topk."""
        model, groups, k = self.model(), self.groups, self.config.top_k
        clean = texts.fill_null("").str.replace_all(r"[\n\r\x0b\x0c\x85\u2028\u2029]", " ")
        labels, probs = model.predict(clean, k)
        by_raw = model.by_raw
        top, score = model.top1(labels, probs, min(k, len(by_raw)))
        raw = pl.Series("raw", top, dtype=pl.Utf8)
        seen = [r for r in raw.unique().to_list() if r is not None]
        shown = {r: groups.shown_label(by_raw[r], declared) for r in seen}
        same = {r: groups.same(by_raw[r], declared) for r in seen}
        blank = clean.str.strip_chars() == ""  # fastText still "predicts" for an empty line: hide it
        out = pl.DataFrame({
            "lid_label": raw.replace_strict(shown, default=None, return_dtype=pl.Utf8),
            "lid_score": score,
            "same": raw.replace_strict(same, default=None, return_dtype=pl.Boolean),
        })
        if k > 1:
            names = {r: groups.shown_label(by_raw[r], declared) for r in {x for lab in labels for x in lab}}
            rows = [" ".join(f"{names[r]}:{min(float(s), 1.0):.3f}" for r, s in zip(lab, p, strict=True)) or None
                    for lab, p in zip(labels, probs, strict=True)]
            out = out.with_columns(pl.Series("lid_topk", rows, dtype=pl.Utf8))
        return out.with_columns(pl.when(blank).then(None).otherwise(pl.all()).name.keep())

    def apply(self, df: pl.DataFrame) -> pl.DataFrame:
        """Annotate every row; reject confident mismatches of known labels (see module docstring)."""
        if df.height == 0:
            return df.with_columns(
                *[pl.lit(None, dtype=t).alias(n) for n, t in self.annotations.items()],
                pl.lit(None, dtype=pl.Utf8).alias("reason"), pl.lit(None, dtype=pl.Float64).alias("score"),
                pl.lit(None, dtype=pl.Utf8).alias("detail"))
        declared = df["label"][0]
        pred = self.predict(df["text"], declared)
        c = self.config
        judge = (c.mode == "filter") and self.knows(declared)
        threshold = float(c.setting(declared, "threshold"))
        min_chars = int(c.setting(declared, "min_chars"))
        mismatch = (
            pl.lit(judge)
            & pl.col("same").not_()
            & (pl.col("lid_score") >= threshold)
            & (pl.col("text").str.len_chars() >= min_chars)
        ).fill_null(False)
        out = df.with_columns(pred)
        rej = out.select(mismatch).to_series()
        return out.drop("same").with_columns(
            pl.when(rej).then(pl.lit(REASON)).otherwise(None).alias("reason"),
            pl.when(rej).then(pl.col("lid_score").cast(pl.Float64)).otherwise(None).alias("score"),
            pl.when(rej).then(pl.col("lid_label")).otherwise(None).alias("detail"),
        )


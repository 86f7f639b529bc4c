"""Where files live: local paths, or any fsspec URL (`s3://`, `gs://`, `hf://`, `file://`, `memory://`).

Cluster workers share an object store rather than a disk, so every read and write of a build goes
through pathlib-style objects: plain `Path`s for local files (the fast, common case) and
`universal_pathlib` `UPath`s for URLs. Credentials come from each filesystem's own environment and
configuration (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, HF_TOKEN, ~/.config/...), never from our settings.
Only the operations that pathlib does not offer portably live here.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO, Any

from upath import UPath


def as_path(location: str | os.PathLike) -> Path:
    """A Path for local files, a UPath for URLs (`file://` URLs become local Paths)."""
    if isinstance(location, UPath) and not is_remote(location):
        return Path(location.path)
    if isinstance(location, Path):
        return location
    text = str(location)
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    if "://" in text:
        return UPath(text)
    return Path(text)


def is_remote(path: Any) -> bool:
    return isinstance(path, UPath) and getattr(path, "protocol", "") not in ("", "file", "local")


def location(path: Path) -> str:
    """The string to store in plans and markers (a URL for remote paths, an absolute path otherwise)."""
    return str(path) if is_remote(path) else str(Path(path).resolve())


def remove_tree(path: Path) -> None:
    if is_remote(path):
        if path.exists():
            path.fs.rm(path.path, recursive=True)
    elif path.exists():
        shutil.rmtree(path)


def replace(src: Path, dst: Path) -> None:
    """Rename, replacing dst (atomic on local disks; copy-then-delete on object stores, where the
    marker written last is what makes a task count as done)."""
    if is_remote(src):
        src.fs.mv(src.path, dst.path)
    else:
        os.replace(src, dst)


def makedirs(path: Path) -> None:
    if is_remote(path):
        path.fs.makedirs(path.path, exist_ok=True)
    else:
        path.mkdir(parents=True, exist_ok=True)


def open_binary(path: Path, mode: str = "rb") -> IO[bytes]:
    return path.open(mode)


def identity(path: Path) -> list[Any]:
    """(size, modification stamp) used to notice changed inputs between a run and its resume."""
    if is_remote(path):
        info = path.fs.info(path.path)
        stamp = info.get("mtime") or info.get("LastModified") or info.get("ETag") or info.get("last_commit")
        return [info.get("size"), str(stamp)]
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def parquet_source(path: Path) -> Any:
    """What pyarrow.parquet should open: a local path string, or an open remote file."""
    return path.open("rb") if is_remote(path) else str(path)


def is_readable_file(path: Path) -> bool:
    if is_remote(path):
        return path.is_file()
    return path.is_file() and os.access(path, os.R_OK)


def _upath(like: UPath, path: str) -> UPath:
    """A UPath on `like`'s filesystem for a path its fs returned (HTTP returns full URLs)."""
    return UPath(path if "://" in path else f"{like.protocol}://{path}", **like.storage_options)


def glob_files(root: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` (relative to `root`, absolute, or a URL), sorted; `**` recurses."""
    if "://" in pattern and not pattern.startswith("file://"):
        base = UPath(pattern)
        return sorted(_upath(base, p) for p in base.fs.glob(base.path) if base.fs.isfile(p))
    pattern = pattern.removeprefix("file://")
    if is_remote(root):
        full = f"{root.path.rstrip('/')}/{pattern}"
        return sorted(_upath(root, p) for p in root.fs.glob(full) if root.fs.isfile(p))
    import glob as _glob

    full = pattern if os.path.isabs(pattern) else str(Path(root) / pattern)
    return sorted(Path(p) for p in _glob.glob(full, recursive=True) if Path(p).is_file())


def relative(path: Path, root: Path) -> str:
    """POSIX path of `path` under `root` (the `source` column); the full location if it is elsewhere."""
    full, base = location(path), location(root).rstrip("/")
    return full[len(base) + 1:] if full.startswith(base + "/") else full

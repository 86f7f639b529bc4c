"""Recipes: TOML files that configure a build, merged over the bundled default.

A recipe is plain data (nested dicts) so that it can be hashed into a fingerprint for resume and
shipped to workers as it is.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any


class RecipeError(ValueError):
    """A recipe file or override that cannot be used; the message names the file or key."""


def default_recipe() -> dict[str, Any]:
    text = resources.files("glotforge.pipelines").joinpath("recipes/default.toml").read_text("utf-8")
    return tomllib.loads(text)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `override` into a copy of `base` (tables merge, other values replace)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw  # a bare word is a string


def apply_overrides(recipe: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `table.key=value` overrides; values are TOML literals (bare words are strings)."""
    out = copy.deepcopy(recipe)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(f"--set {item!r}: expected table.key=value")
        parts = key.strip().split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RecipeError(f"--set {item!r}: {part!r} is not a table")
        node[parts[-1]] = _parse_value(raw.strip())
    return out


def load_recipe(path: Path | None = None, overrides: list[str] | None = None) -> dict[str, Any]:
    recipe = default_recipe()
    if path is not None:
        try:
            user = tomllib.loads(Path(path).read_text("utf-8"))
        except FileNotFoundError:
            raise RecipeError(f"{path}: recipe file not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise RecipeError(f"{path}: not valid TOML ({exc})") from None
        recipe = merge(recipe, user)
    return apply_overrides(recipe, overrides or [])


def stage_config(recipe: dict[str, Any], stage: str) -> dict[str, Any]:
    return copy.deepcopy(recipe.get(stage, {}))


def fingerprint(obj: Any) -> str:
    """Stable short hash of JSON-able data (sorted keys), used to tie markers to a recipe."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]

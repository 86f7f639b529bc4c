"""Language-script labels: any declared tag becomes `<ISO 639-3>_<ISO 15924>` (`eng_Latn`).

Sources declare languages in a dozen conventions (ISO 639-1/2/3, BCP-47 with script, region, variant or
extlang subtags, `xxx_Scrp` file names). Parsing is delegated to `langcodes` (BCP-47 syntax, without
its CLDR normalisation, which would silently merge `tl` into `fil`) and the mapping to ISO 639-3 to
`python-iso639` (the SIL tables, with retirements). Deprecated codes move to their documented
replacement; individual and macrolanguage codes stay as declared (`zh` -> `zho`, `cmn` -> `cmn`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

SCRIPT_RE = re.compile(r"^[A-Za-z]{4}$")
LABEL_RE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
UNKNOWN_SCRIPT = "Zzzz"  # ISO 15924 "uncoded script": a source with no letters at all


class LabelError(ValueError):
    """A declared language that cannot become a Glot label; the message says why."""


@dataclass(frozen=True)
class Label:
    language: str  # ISO 639-3
    script: str | None  # ISO 15924, None until decided from the text

    def __str__(self) -> str:
        return f"{self.language}_{self.script or UNKNOWN_SCRIPT}"

    def with_script(self, script: str) -> Label:
        return Label(self.language, script)


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    text = resources.files("glotforge.corpus").joinpath("data/label_aliases.tsv").read_text("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {alias.lower(): target for alias, target, *_ in rows}


def _iso639_3(code: str, keep_unknown: bool) -> str:
    """ISO 639-3 code for a 2- or 3-letter code, following retirements to their replacement."""
    import iso639  # its tables take ~0.3 s to load: only in processes that parse labels

    try:
        lang = iso639.Language.match(code.lower())
    except (iso639.LanguageNotFoundError, AttributeError):
        if keep_unknown and re.fullmatch(r"[a-z]{3}", code.lower()):
            return code.lower()
        raise LabelError(f"unknown language code {code!r}") from None
    seen = {lang.part3}
    while lang.status == "R":
        target = lang.retire_change_to
        if not target:
            if keep_unknown:
                return lang.part3
            remedy = f" ({lang.retire_remedy})" if lang.retire_remedy else ""
            raise LabelError(f"retired language code {code!r} has no single replacement{remedy}")
        lang = iso639.Language.match(target)
        if lang.part3 in seen:
            break
        seen.add(lang.part3)
    return lang.part3


def _normalize_script(script: str) -> str:
    if not SCRIPT_RE.match(script):
        raise LabelError(f"{script!r} is not an ISO 15924 script code")
    return script[0].upper() + script[1:].lower()


@lru_cache(maxsize=65536)
def parse_label(tag: str, script: str | None = None, keep_unknown: bool = False) -> Label:
    """Parse any language tag into a Label; `script` (if given) fills a missing script subtag.

    Raises LabelError with a one-line reason for tags that cannot be mapped (unless `keep_unknown`,
    which keeps a syntactically valid 3-letter code as given).
    """
    import langcodes

    raw = tag.strip()
    if not raw:
        raise LabelError("empty language tag")
    aliases = _aliases()
    cleaned = raw.replace("_", "-")
    if cleaned.lower() in aliases:
        cleaned = aliases[cleaned.lower()]
    try:
        parsed = langcodes.Language.get(cleaned, normalize=False)
    except (langcodes.tag_parser.LanguageTagError, ValueError):
        raise LabelError(f"{raw!r} is not a language tag") from None
    language = parsed.language
    if parsed.extlangs:  # zh-yue, ar-arb: the extlang is the precise language
        language = parsed.extlangs[0]
    if not language or language in {"und", "mul", "zxx", "mis"} or parsed.private:
        if not (keep_unknown and language and re.fullmatch(r"[a-z]{3}", language)):
            raise LabelError(f"{raw!r} names no specific language")
    language = aliases.get(language.lower(), language)
    code3 = _iso639_3(language, keep_unknown)
    chosen = parsed.script or script
    return Label(code3, _normalize_script(chosen) if chosen else None)


def normalize_label(tag: str, script: str | None = None, keep_unknown: bool = False) -> str:
    """`xxx_Scrp` string for a tag whose script is known (declared or given); LabelError otherwise."""
    label = parse_label(tag, script, keep_unknown)
    if label.script is None:
        raise LabelError(f"{tag!r} declares no script")
    return str(label)


def split_label(label: str) -> tuple[str, str]:
    """('eng', 'Latn') for 'eng_Latn'."""
    if not LABEL_RE.match(label):
        raise LabelError(f"{label!r} is not a <iso639-3>_<Iso15924> label")
    lang, script = label.split("_")
    return lang, script


def iso639_1(language: str) -> str | None:
    """Two-letter code of an ISO 639-3 language, if it has one (used to pick ICU locales)."""
    import iso639

    try:
        return iso639.Language.match(language).part1
    except (iso639.LanguageNotFoundError, AttributeError):
        return None

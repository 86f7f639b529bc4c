"""Sources full of near-duplicate chains, for the dedup rounds (tests/test_dedup_rounds.py, Ray tests).

Each chain starts from random words and drifts one word at a time, so neighbours are near copies but
the ends of a chain are not: the graph of verified pairs has long paths and large components, which is
what the component rounds and the chaining-free resolution have to get right. Some lines are repeated
in upper case (exact copies after casefolding). Lines are shuffled over several files, so every
component spans slices.
"""

from __future__ import annotations

import random
from pathlib import Path

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
         "sigma tau upsilon phi chi psi omega").split()


def chain_lines(rng: random.Random, n: int) -> list[str]:
    lines: list[str] = []
    while len(lines) < n:
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 14))]
        for _ in range(rng.randint(1, 8)):
            lines.append(" ".join(words))
            if rng.random() < 0.3:
                lines.append(" ".join(words).upper())
            words = words[:]
            words[rng.randrange(len(words))] = rng.choice(WORDS)
            if rng.random() < 0.5:
                words.append(rng.choice(WORDS))
    return lines


def write_chain_sources(root: Path, seed: int = 0, lines: int = 600, files: int = 6) -> Path:
    """A manifest: `ell_Latn` (lines spread over `files` files) and a small `fra_Latn` label."""
    rng = random.Random(seed)
    big = chain_lines(rng, lines)
    rng.shuffle(big)
    (root / "data" / "el").mkdir(parents=True)
    (root / "data" / "fr").mkdir()
    for i in range(files):
        (root / "data" / "el" / f"s{i}.txt").write_text("\n".join(big[i::files]) + "\n", "utf-8")
    (root / "data" / "fr" / "a.txt").write_text("\n".join(chain_lines(rng, 80)) + "\n", "utf-8")
    manifest = root / "sources.toml"
    manifest.write_text('[[source]]\npath = "data/el/*.txt"\nlanguage = "ell_Latn"\n\n'
                        '[[source]]\npath = "data/fr/*.txt"\nlanguage = "fr"\n', "utf-8")
    return manifest

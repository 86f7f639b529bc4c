"""datatrove's MinHash dedup on a JSONL file, for the side-by-side in `bench_dedup.py`.

Runs in its own environment, never in the project's (datatrove is not a Glotforge dependency):

    python3 -m venv /tmp/glotforge-dt-venv
    /tmp/glotforge-dt-venv/bin/pip install datatrove orjson "xxhash==3.8.2" polars pyarrow
    /tmp/glotforge-dt-venv/bin/python bench/dedup_datatrove.py IN.jsonl WORKDIR

Input lines are `{"id": ..., "text": ...}`; a text may start with a salt word `qzq<letters>` that the
tokenizer below prefixes to every word, so that documents of different labels can never share a
shingle (datatrove dedups one pool; Glotforge dedups per label). The four stages of datatrove's
example run with one worker each (the per-core figure): signatures, buckets, clusters, filter.
datatrove's defaults otherwise: word 5-grams after `simplify_text`, 14 buckets x 8 hashes, 64-bit
xxhash. Its per-language tokenizers need spaCy/pythainlp/...; a whitespace tokenizer stands in
(packages.md section 11, fix 3), which is what datatrove does for any language without one.
Writes WORKDIR/kept_ids.txt and prints a JSON line with the timings.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer


class SaltedWhitespaceTokenizer(WordTokenizer):
    """Whitespace words; a leading `qzq...` salt word is glued to every other word (label isolation)."""

    def word_tokenize(self, text: str) -> list[str]:
        words = text.split()
        if words and words[0].startswith("qzq"):
            salt, words = words[0], words[1:]
            return [salt + w for w in words] or [salt]
        return words

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


def main(inp: str, work: str) -> None:
    work_dir = Path(work)
    folder = str(Path(inp).parent)
    name = Path(inp).name
    config = MinhashConfig(hash_config=HashConfig(precision=64))
    tok = SaltedWhitespaceTokenizer()
    times = {}
    stages = [
        ("signatures", [JsonlReader(folder, glob_pattern=name),
                        MinhashDedupSignature(output_folder=f"{work}/sigs", config=config, language=tok)], 1),
        ("buckets", [MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                                         config=config)], config.num_buckets),
        ("clusters", [MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove_ids",
                                          config=config)], 1),
        ("filter", [JsonlReader(folder, glob_pattern=name),
                    MinhashDedupFilter(input_folder=f"{work}/remove_ids"),
                    JsonlWriter(f"{work}/kept", compression=None)], 1),
    ]
    t_all = time.perf_counter()
    for label, pipeline, tasks in stages:
        t0 = time.perf_counter()
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=f"{work}/logs/{label}").run()
        times[label] = round(time.perf_counter() - t0, 2)
    wall = time.perf_counter() - t_all
    kept = []
    for f in sorted((work_dir / "kept").glob("*.jsonl")):
        with f.open() as fh:
            kept.extend(str(json.loads(line)["id"]) for line in fh)
    (work_dir / "kept_ids.txt").write_text("\n".join(map(str, kept)) + "\n")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                      "stages_s": times, "kept": len(kept), "max_rss_mb": usage.ru_maxrss // 1024}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""The `glot` command line: a thin face over library functions.

Each command parses options and calls one library function; user errors become one-line
`click.ClickException`s (no traceback). Commands of other areas live in `pipelines/commands/*.py`
and are registered at the bottom of this file.
"""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="glotforge")
def main() -> None:
    """Glotforge: build per-language-script multilingual corpora and train models on them."""


# --- command registration: one line per area (keep sorted) ---
from glotforge.pipelines.commands.build_cmd import build, run_cmd, stages  # noqa: E402
from glotforge.pipelines.commands.stats_cmd import card, report, select, stats  # noqa: E402

main.add_command(build)
main.add_command(stages)
main.add_command(run_cmd)
for _cmd in (stats, report, select, card):
    main.add_command(_cmd)
from glotforge.pipelines.commands.vocab import vocab  # noqa: E402

main.add_command(vocab)

from glotforge.pipelines.commands.lid import lid  # noqa: E402

main.add_command(lid)

from glotforge.pipelines.commands.filters import filters  # noqa: E402

main.add_command(filters)

from glotforge.pipelines.commands.train_cmd import train  # noqa: E402

main.add_command(train)

from glotforge.pipelines.commands.eval_cmd import eval_cmd  # noqa: E402

main.add_command(eval_cmd)

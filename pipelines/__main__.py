"""`python -m glotforge.pipelines` runs the `glot` command line."""

from glotforge.pipelines.cli import main

main()

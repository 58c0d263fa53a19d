"""Rule interactive_figures: every interactive figure of the run on one offline page, for the report."""

from pathlib import Path

from brainlike.atomic import write_text
from brainlike.figures.interactive import viewer_page
from brainlike.logs import to_file

to_file(snakemake.log[0])
figures = {title: Path(path).read_text() for title, path in zip(snakemake.params.titles, snakemake.input)}
write_text(snakemake.output[0], viewer_page(figures))

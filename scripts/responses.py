"""Rule responses: one population's recordings pooled and its cells selected (the config's cells)."""

import json
from pathlib import Path

from brainlike.logs import to_file
from brainlike.populations import population, write_population
from brainlike.recordings import read_recordings

to_file(snakemake.log[0])
recordings, metadata = read_recordings(snakemake.input.recordings)
running = json.loads(Path(snakemake.input.running).read_text()) if snakemake.input.get("running") else None
arrays, described = population(recordings, metadata, snakemake.params.cells, snakemake.params.movie_sessions, running)
# The source's, not the reader's: recordings read before the tables had the column are not read again.
described["modality"] = snakemake.params.modality
write_population(snakemake.output.npz, arrays, described)

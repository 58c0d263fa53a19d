"""Rule tables: one tidy τ table for the whole grid, with noise ceilings and population sizes."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from brainlike.logs import to_file

to_file(snakemake.log[0])
populations = []
for ceiling_path, responses_path in zip(snakemake.input.ceilings, snakemake.input.responses):
    # Both lists follow the same expand() order: results/<kind>/<stimulus>/<area>/<depth>.<ext>
    stimulus, area, depth = Path(ceiling_path).with_suffix("").parts[-3:]
    population = np.load(responses_path)
    trials, stimuli, cells = population["responses"].shape
    populations.append(
        {
            "stimulus": stimulus,
            "area": area,
            "depth": int(depth),
            "cre_line": snakemake.params.cre_line,
            "cells": cells,
            "containers": len(np.unique(population["container_id"])),
            "trials": trials,
            "stimuli": stimuli,
            **json.loads(Path(ceiling_path).read_text()),
        }
    )
scores = pd.concat([pd.read_parquet(path) for path in snakemake.input.taus], ignore_index=True)
table = scores.merge(pd.DataFrame(populations), on=["stimulus", "area", "depth"], validate="many_to_one")
table["tau_noise_corrected"] = table["tau"] / table["ceiling_median"]
table = table.sort_values(["stimulus", "area", "depth", "model", "layer_index"], ignore_index=True)
table.to_parquet(snakemake.output.parquet, index=False)
table.to_csv(snakemake.output.csv, index=False)

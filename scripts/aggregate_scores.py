"""Rule tables: one tidy score table for the whole grid (FDR q over all of it), and the cells and containers of every population."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from brainlike.inference import fdr
from brainlike.logs import to_file

to_file(snakemake.log[0])
populations, containers = [], []
for ceiling_path, responses_path in zip(snakemake.input.ceilings, snakemake.input.responses):
    population = np.load(responses_path)
    metadata = json.loads(str(population["metadata"]))
    trials, stimuli, cells = population["responses"].shape
    key = {"stimulus": metadata["stimulus"], "area": metadata["area"], "depth": int(metadata["depth"])}
    populations.append(
        {
            **key,
            "cre_line": metadata["cre_line"],
            "cells": cells,
            "containers": len(np.unique(population["container_id"])),
            "trials": trials,
            "stimuli": stimuli,
            **json.loads(Path(ceiling_path).read_text()),
        }
    )
    ids, counts = np.unique(population["container_id"], return_counts=True)
    selection = metadata["selection"]
    containers.extend(
        {
            **key,
            "cre_line": metadata["cre_line"],
            "container_id": container.item(),
            "cells": int(count),
            "signal": metadata["signal"],
            "options": json.dumps(metadata["options"], sort_keys=True),
            "population_cells_recorded": selection["cells_recorded"],
            "population_cells_kept": selection["cells_kept"],
            "selection": json.dumps(selection, sort_keys=True),
        }
        for container, count in zip(ids, counts)
    )
scores = pd.concat([pd.read_parquet(path) for path in snakemake.input.scores], ignore_index=True)
table = scores.merge(pd.DataFrame(populations), on=["stimulus", "area", "depth"], validate="many_to_one")
table["q"] = fdr(table["p"])
table["score_noise_corrected"] = table["score"] / table["ceiling_median"]
# A ratio to a ceiling that chance could have produced is not interpretable: flag it.
table["ceiling_above_chance"] = table["ceiling_p"] < snakemake.params.alpha
table["area_note"] = table["area"].map(snakemake.params.area_notes).fillna("")
LEADING = ["stimulus", "area", "depth", "cre_line", "model", "weights", "pathway", "layer", "layer_index", "score"]
table = table[LEADING + [column for column in table if column not in LEADING]]
table = table.sort_values(["stimulus", "area", "depth", "model", "layer_index"], ignore_index=True)
table.to_parquet(snakemake.output.parquet, index=False)
table.to_csv(snakemake.output.csv, index=False)
pd.DataFrame(containers).to_csv(snakemake.output.populations, index=False)

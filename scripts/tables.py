"""Rule tables: one tidy score table for the whole grid and every metric (FDR q per family), and the cells and
containers of every population."""

import json

import pandas as pd

from brainlike.frame import guard_corrections, leading_first
from brainlike.inference import table_q
from brainlike.logs import to_file
from brainlike.populations import read_metadata

KEY = ["stimulus", "area", "depth"]

to_file(snakemake.log[0])
populations, containers = [], []
for path in snakemake.input.populations:
    metadata = read_metadata(path)
    key = {column: metadata[column] for column in KEY}
    populations.append(
        {
            **key,
            **{column: metadata[column] for column in ("modality", "cre_line", "cells", "containers", "trials", "stimuli")},
        }
    )
    selection = metadata["selection"]
    containers.extend(
        {
            **key,
            "modality": metadata["modality"],
            "cre_line": metadata["cre_line"],
            "container_id": container,
            "cells": count,
            "signal": metadata["signal"],
            "options": json.dumps(metadata["options"], sort_keys=True),
            "population_cells_recorded": selection["cells_recorded"],
            "population_cells_kept": selection["cells_kept"],
            "selection": json.dumps(selection, sort_keys=True),
        }
        for container, count in metadata["cells_per_container"].items()
    )
described = pd.DataFrame(populations)
scores = {path: pd.read_parquet(path) for path in snakemake.input.scores}
# Score tables of a version of the workflow before ceiling_squared_se: Snakemake reruns a job when
# its script changes, not the package it imports, so they can still be there after an upgrade.
if stale := [path for path, part in scores.items() if "ceiling_squared_se" not in part]:
    raise ValueError(
        f"{', '.join(stale)}: no ceiling_squared_se column (written by an earlier version of the workflow); "
        "rerun the ceilings and the scores on them: snakemake --forcerun noise_ceiling encode cka"
    )
table = pd.concat(scores.values(), ignore_index=True)
table = guard_corrections(table, snakemake.params.alpha, snakemake.params.ceiling_floor, snakemake.params.ceiling_squared_max_se)
table = table.merge(described, on=KEY, how="left", validate="many_to_one")
table["q"], table["q_method"] = table_q(table, snakemake.params.fdr_family)
table["area_note"] = table["area"].map(snakemake.params.area_notes).fillna("")
table = leading_first(table)
table = table.sort_values(["metric", "stimulus", "area", "depth", "model", "layer_index"], ignore_index=True, kind="stable")
table.to_parquet(snakemake.output.parquet, index=False)
table.to_csv(snakemake.output.csv, index=False)
# Published RDMs have no containers: their populations table is the header alone.
columns = [*KEY, "modality", "cre_line", "container_id", "cells", "signal", "options", "population_cells_recorded",
           "population_cells_kept", "selection"]  # fmt: skip
pd.DataFrame(containers, columns=columns).to_csv(snakemake.output.populations, index=False)

"""Rule encode: cross-validated ridge encoding scores of every layer of one model against every population."""

import numpy as np

from brainlike.atomic import write_npz
from brainlike.depths import depth_value
from brainlike.devices import resolve
from brainlike.encoding import Encoding, ReliableCells, cells_per_chunk, encode_layers, use_device
from brainlike.frame import Statistics, labelled_table, resample_arrays
from brainlike.logs import to_file
from brainlike.resampling import ceiling_relabellings
from brainlike.stores import layer_grams

to_file(snakemake.log[0])
params, wildcards = snakemake.params, snakemake.wildcards
layers, grams = layer_grams(snakemake.input.store)
statistics = Statistics.from_params(params)
use_device(resolve(params.device, "encoding.device"))
encoding = Encoding(
    alphas=tuple(params.alphas),
    folds=params.folds,
    inner_folds=params.inner_folds,
    reliability_threshold=params.reliability_threshold,
    reliability_splits=params.reliability_splits,
    cell_chunk=cells_per_chunk(snakemake.resources.mem_mb, len(params.alphas), len(grams[0])),
)
populations = []
for (area, depth), path in zip(params.populations, snakemake.input.responses):
    with np.load(path) as population:
        responses = population["responses"]
        orders = ceiling_relabellings(params.seed, params.permutations, wildcards.stimulus, area, depth,
                                      responses.shape[1], params.continuous)  # fmt: skip
        populations.append(ReliableCells.from_responses({"area": area, "depth": depth_value(depth)}, responses,
                                                     population["container_id"], encoding, params.seed,
                                                     wildcards.stimulus, orders))  # fmt: skip
table, resamples = encode_layers(
    populations, grams, np.asarray([layer["pathway"] for layer in layers]),
    statistics, encoding, wildcards.stimulus, params.container_bootstraps,
)  # fmt: skip
table = labelled_table(table, layers, wildcards.stimulus, wildcards.model, params.weights, "ridge")
table.to_parquet(snakemake.output.table, index=False)
write_npz(snakemake.output.resamples, resample_arrays(resamples, table, layers))

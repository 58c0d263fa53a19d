"""Rule modalities_tables: every modality entry's tables in one (brainlike.modalities.combined)."""

from brainlike.logs import to_file
from brainlike.modalities import TABLES, combined, read_table

to_file(snakemake.log[0])
for name, formats in TABLES.items():
    table = combined({folder: read_table(path) for folder, path in zip(snakemake.params.folders, snakemake.input[name])})
    for suffix in formats:
        path = snakemake.output[f"{name}_{suffix}"]
        if suffix == "parquet":
            table.to_parquet(path, index=False)
        else:
            table.to_csv(path, index=False)

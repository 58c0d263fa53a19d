"""Rule provenance: what the results were computed from, and the config as the run read it."""

from pathlib import Path

import yaml

from brainlike.logs import to_file
from brainlike.provenance import provenance_table

to_file(snakemake.log[0])
# The config is read here, not passed as params: it is documented, not computed from, so a key
# that changes no result must not rerun this job.
config = snakemake.config
provenance_table(
    snakemake.input.recordings,
    snakemake.params.weight_files,
    workflow_dir=Path(__file__).resolve().parents[1],
    allensdk_python=None if config["data"]["source"] in ("own", "rdms") else config["envs"]["allensdk_python"],
    published_rdms=snakemake.input.published_rdms,
).to_csv(snakemake.output.table, index=False)
Path(snakemake.output.config).write_text(yaml.safe_dump(config, sort_keys=False))

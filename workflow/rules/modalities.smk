# Several data sources in one run (config key modalities): each entry is this workflow as a module
# with the entry's config (brainlike.modalities.entry_configs), its rules named <entry>_<rule> and
# its results in <results>/<entry>/; one rule puts the entries' tables together.
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from brainlike.configs import check_moved_keys
from brainlike.modalities import TABLES, entry_configs

check_moved_keys(config)
validate(config, "../schemas/config.schema.yaml")

RESULTS = config["results"]
ENTRY_CONFIGS = entry_configs(config)
ENTRY_FOLDERS = [entry_config["results"] for entry_config in ENTRY_CONFIGS.values()]

# Every entry checked before any is loaded (loading one plans it, building its models).
for entry, entry_config in ENTRY_CONFIGS.items():
    try:
        check_moved_keys(entry_config)
        validate(entry_config, "../schemas/config.schema.yaml")
    except (ValueError, WorkflowError) as error:
        raise WorkflowError(
            f"modalities.{entry}: the config with this entry's overlay is not valid",
            error,
        )

for entry, entry_config in ENTRY_CONFIGS.items():

    module:
        name: entry
        snakefile:
            "../Snakefile"
        config:
            entry_config

    # `use rule` takes a dynamic module's name modifier from a variable.
    entry_prefix = f"{entry}_"

    use rule * from entry as entry_prefix*


rule modalities_tables:
    """Every entry's score, population and group tables in one, each row under its entry's folder."""
    input:
        **{
            name: [f"{folder}/tables/{name}.{formats[0]}" for folder in ENTRY_FOLDERS]
            for name, formats in TABLES.items()
        },
    output:
        **{
            f"{name}_{suffix}": f"{RESULTS}/tables/{name}.{suffix}"
            for name, formats in TABLES.items()
            for suffix in formats
        },
    log:
        f"{RESULTS}/logs/modalities_tables.log",
    conda:
        "../../envs/main.yaml"
    params:
        folders=ENTRY_FOLDERS,
    script:
        "../../scripts/modalities_tables.py"

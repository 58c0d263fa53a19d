import json
import os

from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")


def _check_config(config):
    """Cross-key checks the schema cannot express; each error names the key and what is valid."""
    data, embedded = config["data"], config["embedded"]
    if embedded["source_model"] not in config["models"]:
        raise ValueError(
            f"embedded.source_model: {embedded['source_model']!r} is not a key of models "
            f"({sorted(config['models'])})"
        )
    if data["source"] == "embedded":
        missing_areas = sorted(set(data["areas"]) - set(embedded["areas"]))
        missing_depths = sorted(set(data["depths"]) - set(embedded["depths"]))
        if missing_areas or missing_depths:
            raise ValueError(
                f"data.areas / data.depths ask for areas {missing_areas} and depths {missing_depths} "
                f"that embedded does not generate (embedded.areas: {sorted(embedded['areas'])}, "
                f"embedded.depths: {embedded['depths']})"
            )
        if (
            "natural_scenes" in data["stimuli"]
            and "three_session_B" not in embedded["sessions"]
        ):
            raise ValueError(
                "data.stimuli has natural_scenes, shown only in three_session_B: add it to embedded.sessions"
            )


_check_config(config)

AREAS = config["data"]["areas"]
DEPTHS = [str(depth) for depth in config["data"]["depths"]]
STIMULI = config["data"]["stimuli"]
MODELS = list(config["models"])
EMBEDDED = config["data"]["source"] == "embedded"
RESULTS = "results"
ALLENSDK_PYTHON = config["envs"]["allensdk_python"]


wildcard_constraints:
    area="|".join(AREAS),
    depth="|".join(DEPTHS),
    stimulus="|".join(STIMULI),
    model="|".join(MODELS),
    container=r"\d+",


def cache_manifest():
    if EMBEDDED:
        return f"{RESULTS}/embedded/cache/manifest.json"
    return config["data"]["allen_manifest"]


ALLEN_DIR = os.path.dirname(config["data"]["allen_manifest"]) or "."
CONTAINERS = config["data"]["containers"]


def cache_input(wildcards):
    """What the data jobs read: the generated cache (embedded), the verified downloads of the
    listed containers (allen), or nothing, in which case allensdk fetches files as it needs them.
    """
    if EMBEDDED:
        return rules.embedded_cache.output.cache
    if CONTAINERS is None:
        return []
    return expand(rules.download_container.output, container=CONTAINERS)


# Arguments every AllenSDK job shares: which cache, how to select cells, how to cut the movie.
ALLEN_ARGS = (
    f"--manifest {cache_manifest()} {'--offline' if EMBEDDED else ''} "
    f"--cre-line {config['data']['cre_line']} "
    f"--options '{json.dumps({**config['responses'], 'cells': config['cells'], 'seed': config['rsa']['seed']})}'"
    + (
        ""
        if config["data"]["containers"] is None
        else f" --containers {' '.join(map(str, config['data']['containers']))}"
    )
)

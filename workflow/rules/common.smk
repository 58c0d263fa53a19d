import json

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


def cache_manifest():
    if EMBEDDED:
        return f"{RESULTS}/embedded/cache/manifest.json"
    return config["data"]["allen_manifest"]


def cache_input(wildcards):
    """The generated cache is a job's output; a real Allen cache is the user's folder."""
    return rules.embedded_cache.output.cache if EMBEDDED else []


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

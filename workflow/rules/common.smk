import json
import os

from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")


def _check_config(config):
    """Cross-key checks the schema cannot express; each error names the key and what is valid."""
    data, embedded = config["data"], config["embedded"]
    unknown_areas = sorted(set(data["containers"] or {}) - set(data["areas"]))
    if unknown_areas:
        raise ValueError(
            f"data.containers lists areas {unknown_areas} that are not in data.areas {data['areas']}"
        )
    if data["source"] == "own":
        if data["own"] is None:
            raise ValueError("data.source is own: set data.own (manifest and stimuli)")
        unknown = sorted(set(data["stimuli"]) - set(data["own"]["stimuli"]))
        if unknown:
            raise ValueError(
                f"data.stimuli {unknown} are not keys of data.own.stimuli ({sorted(data['own']['stimuli'])})"
            )
    else:
        unknown = sorted(set(data["stimuli"]) - {"natural_scenes", "natural_movie_one"})
        if unknown:
            raise ValueError(
                f"data.stimuli {unknown}: the Brain Observatory stimuli are natural_scenes and natural_movie_one"
            )
    if embedded["source_model"] not in config["models"]:
        raise ValueError(
            f"embedded.source_model: {embedded['source_model']!r} is not a key of models "
            f"({sorted(config['models'])})"
        )
    rsa = config["rsa"]
    if rsa["spearman_brown"] and rsa["comparison"] not in ("spearman", "pearson"):
        raise ValueError(
            f"rsa.spearman_brown: true corrects correlation-based ceilings; rsa.comparison is "
            f"{rsa['comparison']!r} (set spearman or pearson, or spearman_brown: false)"
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
SOURCE = config["data"]["source"]
EMBEDDED = SOURCE == "embedded"
RESULTS = "results"
ALLENSDK_PYTHON = config["envs"]["allensdk_python"]
# Statistics jobs ask for a GPU only when their Kendall counts run on one.
RSA_GPUS = int(str(config["rsa"]["device"]).startswith("cuda"))


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
# area → container ids to keep (None: every container of the area).
CONTAINERS = config["data"]["containers"] or {}


def listed_containers(area):
    return CONTAINERS.get(area)


def template_area():
    """The area whose first experiment supplies the stimulus templates: one with listed containers
    if any (its files are then downloaded and verified), else the first area."""
    return next((area for area in AREAS if listed_containers(area)), AREAS[0])


def cache_input(wildcards):
    """What a data job reads: the generated cache (embedded), the verified downloads of its area's
    listed containers (allen), or nothing: allensdk then fetches what the job needs itself.
    """
    if EMBEDDED:
        return rules.embedded_cache.output.cache
    area = getattr(wildcards, "area", template_area())
    if SOURCE == "own" or not listed_containers(area):
        return []
    return expand(rules.download_container.output, container=listed_containers(area))


def containers_argument(area):
    ids = listed_containers(area)
    return "" if not ids else "--containers " + " ".join(map(str, ids))


# Arguments every AllenSDK job shares: which cache, how to select cells, how to cut the movie.
ALLEN_ARGS = (
    f"--manifest {cache_manifest()} {'--offline' if EMBEDDED else ''} "
    f"--cre-line {config['data']['cre_line']} "
    f"--options '{json.dumps({**config['responses'], 'cells': config['cells'], 'seed': config['rsa']['seed']})}'"
)


def weights_label(weights):
    """The τ table's weights column: imagenet, checkpoint:<file name> or random_seed:<N>."""
    if isinstance(weights, str):
        return weights
    if "checkpoint" in weights:
        return f"checkpoint:{os.path.basename(weights['checkpoint'])}"
    return f"random_seed:{weights['random_seed']}"

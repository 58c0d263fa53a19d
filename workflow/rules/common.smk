import json
import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from brainlike import allen_index, ecephys_index
from brainlike.configs import Untracked, check_moved_keys
from brainlike.depths import depth_stem, depth_title
from brainlike.devices import resolve
from brainlike.model_groups import expand_models
from brainlike.model_checks import check_models

check_moved_keys(config)
validate(config, "../schemas/config.schema.yaml")


NEUROPIXELS_SOURCES = ("embedded_neuropixels", "allen_neuropixels")


def _check_depths(config):
    data = config["data"]
    if data["source"] in NEUROPIXELS_SOURCES:
        if data["depths"] != ["all"]:
            raise ValueError(
                f"data.depths {data['depths']}: a Neuropixels source scores every unit of an area "
                "together; set data.depths: [all]"
            )
    elif "all" in data["depths"] and data["source"] != "rdms":
        raise ValueError(
            f"data.depths {data['depths']}: 'all' is for the Neuropixels sources and published RDMs; source "
            f"{data['source']} has populations per imaging depth in µm"
        )


def _check_neuropixels(config):
    data, embedded = config["data"], config["embedded"]
    if "neuropixels" not in data:
        raise ValueError(
            f"data.source is {data['source']}: set data.neuropixels (manifest, sessions, units, scene_window_s; "
            "see config/README.md)"
        )
    low, high = data["neuropixels"]["scene_window_s"]
    if not high > low:
        raise ValueError(
            f"data.neuropixels.scene_window_s {[low, high]}: the window's end must be after its start"
        )
    if data["containers"]:
        raise ValueError(
            "data.containers selects 2-photon experiment containers; a Neuropixels source selects "
            "sessions (mice) with data.neuropixels.sessions"
        )
    if config["cells"]["exclude_running_modulated"]:
        raise ValueError(
            "cells.exclude_running_modulated: true reads the 2-photon cache's running-modulation "
            "statistic, which the Neuropixels sources do not have; set it to false"
        )
    if data["source"] == "embedded_neuropixels":
        if "neuropixels" not in embedded:
            raise ValueError(
                "data.source is embedded_neuropixels: set embedded.neuropixels (sessions, units_per_area, "
                "failing_units)"
            )
        missing = sorted(set(data["areas"]) - set(embedded["areas"]))
        if missing:
            raise ValueError(
                f"data.areas asks for areas {missing} that embedded does not generate "
                f"(embedded.areas: {sorted(embedded['areas'])})"
            )
    if data["source"] == "allen_neuropixels" and data["offline"]:
        manifest = data["neuropixels"]["manifest"]
        directory = os.path.dirname(manifest) or "."
        missing = [
            os.path.basename(path)
            for path in (
                manifest,
                *(os.path.join(directory, name) for name in ecephys_index.INDEX_FILES),
            )
            if not os.path.exists(path)
        ]
        if missing:
            raise ValueError(
                f"data.offline is true, but the Neuropixels cache {directory} has no {missing}: fetch the "
                "index once where there is internet (data.offline: null; `snakemake neuropixels_index`), "
                "or point data.neuropixels.manifest at a complete cache"
            )


# Sources whose stimulus sets are the user's files: data.own or data.rdms (stimuli, continuous).
GIVEN_STIMULI_SOURCES = ("own", "rdms")


def is_template(path):
    """A given stimulus set that is an Allen template file (results/templates/<stimulus>.npz of an
    Allen run): the model stage reads it as it reads the Brain Observatory's."""
    return str(path).endswith(".npz")


def _check_given_stimuli(data):
    source = data["source"]
    block = data.get(source)
    if block is None:
        raise ValueError(
            f"data.source is {source}: set data.{source} (manifest and stimuli; see config/README.md)"
        )
    unknown = sorted(set(data["stimuli"]) - set(block["stimuli"]))
    if unknown:
        raise ValueError(
            f"data.stimuli {unknown} are not keys of data.{source}.stimuli ({sorted(block['stimuli'])})"
        )
    templates = sorted(
        name
        for name, path in block["stimuli"].items()
        if is_template(path) and name not in ("natural_scenes", "natural_movie_one")
    )
    if templates:
        raise ValueError(
            f"data.{source}.stimuli {templates}: an .npz stimulus set is an Allen template "
            "(results/templates/<stimulus>.npz), of natural_scenes or natural_movie_one; give "
            "other sets as a folder of images or an .npy array"
        )
    unknown = sorted(set(block.get("continuous", [])) - set(block["stimuli"]))
    if unknown:
        raise ValueError(
            f"data.{source}.continuous {unknown} are not keys of data.{source}.stimuli ({sorted(block['stimuli'])})"
        )


def _check_published_rdms(config):
    """Every population's RDM read and checked against its stimulus set now, before any job."""
    # Imported where used: every plan (and every dry run) of the other sources would pay for them.
    from brainlike import published_rdms
    from brainlike.own_data import stimulus_count
    from brainlike.stimuli import template_count

    data = config["data"]
    if config["metrics"] != ["rsa"]:
        raise ValueError(
            f"metrics {config['metrics']}: published RDMs (data.source: rdms) have no trials or cells for "
            "ridge or CKA; set metrics: [rsa]"
        )
    stimulus_sets = data["rdms"]["stimuli"]
    counts = {
        stimulus: (
            (
                template_count(
                    stimulus_sets[stimulus],
                    stimulus,
                    config["responses"]["natural_scenes"]["blanks"],
                    config["responses"]["natural_movie_one"]["segment_frames"],
                )
                if is_template(stimulus_sets[stimulus])
                else stimulus_count(stimulus_sets[stimulus])
            ),
            stimulus_sets[stimulus],
        )
        for stimulus in data["stimuli"]
    }
    published_rdms.check_manifest(
        data["rdms"]["manifest"],
        [
            (area, depth, stimulus)
            for area in data["areas"]
            for depth in data["depths"]
            for stimulus in data["stimuli"]
        ],
        counts,
    )


def _check_config(config):
    """Cross-key checks the schema cannot express; each error names the key and what is valid."""
    data, embedded = config["data"], config["embedded"]
    unknown_areas = sorted(set(data["containers"] or {}) - set(data["areas"]))
    if unknown_areas:
        raise ValueError(
            f"data.containers lists areas {unknown_areas} that are not in data.areas {data['areas']}"
        )
    if data["source"] in GIVEN_STIMULI_SOURCES:
        _check_given_stimuli(data)
    else:
        unknown = sorted(set(data["stimuli"]) - {"natural_scenes", "natural_movie_one"})
        if unknown:
            raise ValueError(
                f"data.stimuli {unknown}: the Brain Observatory stimuli are natural_scenes and natural_movie_one"
            )
    _check_depths(config)
    if data["source"] in NEUROPIXELS_SOURCES:
        _check_neuropixels(config)
    # Once per run: a cluster job re-reading this file would read every population's RDM again.
    if data["source"] == "rdms" and workflow.is_main_process:
        _check_published_rdms(config)
    if embedded["source_model"] not in MODEL_ENTRIES:
        raise ValueError(
            f"embedded.source_model: {embedded['source_model']!r} is not a model "
            f"({sorted(MODEL_ENTRIES)})"
        )
    for index, pair in enumerate(config["contrasts"]):
        unknown = [group for group in pair if group not in GROUPS]
        if unknown or pair[0] == pair[1]:
            raise ValueError(
                f"contrasts[{index}]: {pair} must name two different groups; groups: {sorted(GROUPS)}"
            )
    if data["source"] == "allen" and data["offline"]:
        directory = os.path.dirname(data["allen_manifest"]) or "."
        missing = [
            path
            for path in (
                data["allen_manifest"],
                *(os.path.join(directory, name) for name in allen_index.INDEX_FILES),
            )
            if not os.path.exists(path)
        ]
        if missing:
            raise ValueError(
                f"data.offline is true, but the cache {directory} has no {missing}: fetch the index once where "
                "there is internet (data.offline: null; `snakemake allen_index`), or point data.allen_manifest "
                "at a complete cache"
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


# Models by name, group declarations expanded into their members (without the grouping keys,
# so a group's label is not part of any member's extraction); group → member names.
MODEL_ENTRIES, GROUPS, DECLARED = expand_models(config["models"])
try:
    _check_config(config)
except ValueError as error:
    if not workflow.modifier.is_module:
        raise
    # An entry of modalities (or another project's import) is a module named for it: say which.
    raise ValueError(f"module {__name__}: {error}") from None
# Every model is built once without weights, so a misspelt layer fails now, not after hours of
# other jobs (once per run: cluster jobs re-reading this file skip it; an architecture that passed
# is remembered, see brainlike.model_checks).
if workflow.is_main_process:
    check_models(MODEL_ENTRIES, DECLARED)


def _check_local_devices():
    """A local run's jobs run on this machine, so a named CUDA device must be here: checked now,
    not in the first job that needs it after hours of others. A cluster run's jobs each check
    their own node (brainlike.devices)."""
    for key in ("activations.device", "encoding.device", "statistics.device"):
        section, name = key.split(".")
        device = config[section][name]
        if str(device).startswith("cuda"):
            resolve(device, key, "this machine, which runs the jobs of a local run,")


if workflow.is_main_process and workflow.local_exec:
    _check_local_devices()

AREAS = config["data"]["areas"]
DEPTHS = [str(depth) for depth in config["data"]["depths"]]
# Figure files name a depth "175um" or "all".
DEPTH_OF_STEM = {depth_stem(depth): depth for depth in DEPTHS}
STIMULI = config["data"]["stimuli"]
MODELS = list(MODEL_ENTRIES)


def metric_files(kind, triples):
    """One metric job's output ``kind`` (table or resamples) per (metric, model, stimulus): the rule
    behind each metric (config key metrics), called once every rule is defined."""
    metric_rules = {"rsa": rules.compare, "ridge": rules.encode, "cka": rules.cka}
    return [
        expand(
            getattr(metric_rules[metric].output, kind), model=model, stimulus=stimulus
        )[0]
        for metric, model, stimulus in triples
    ]


# (area, depth) of every population, in the order of the metric jobs' inputs.
POPULATIONS = [[area, depth] for area in AREAS for depth in DEPTHS]
METRICS = config["metrics"]
# (metric, model, stimulus) of every group member: the resampled scores the group statistics read.
GROUPED = [
    (metric, model, stimulus)
    for metric in METRICS
    for members in GROUPS.values()
    for model in members
    for stimulus in STIMULI
]
SOURCE = config["data"]["source"]
CRE_LINE = config["data"]["cre_line"]
RESULTS = config["results"]


def continuous_stimulus(stimulus):
    """Whether a stimulus set is the segments of one movie, in order (its resamples keep the order;
    see brainlike.resampling)."""
    if SOURCE in GIVEN_STIMULI_SOURCES:
        return stimulus in config["data"][SOURCE].get("continuous", [])
    return stimulus == "natural_movie_one"


def _half_the_cores():
    """Threads of a job that should run beside another: half the local cores, at most 4. A CPU
    forward pass gains 1.5× from a second thread, but two one-thread passes side by side gain
    1.7×; a small statistics job is mostly start-up. 4 where the run has no core count of its own
    (a cluster executor, where each job gets its own cores)."""
    try:
        return min(4, max(1, workflow.cores // 2))
    except WorkflowError:
        return 4


HALF_THE_CORES = _half_the_cores()

# Statistics jobs ask for a GPU only when their Kendall counts run on one.
STATISTICS_GPUS = int(str(config["statistics"]["device"]).startswith("cuda"))


wildcard_constraints:
    area="|".join(AREAS),
    depth="|".join(DEPTHS),
    depth_stem="|".join(DEPTH_OF_STEM),
    stimulus="|".join(STIMULI),
    model="|".join(MODELS),
    metric="|".join(METRICS),


# Each population's recordings (the sources with trials), its description (every source: the
# populations the tables list; a published RDM's is written with it), its brain RDMs and its ceiling.
RECORDINGS = f"{RESULTS}/recordings/{{stimulus}}/{{area}}/{{depth}}.npz"
RECORDINGS_SIDECAR = f"{RESULTS}/recordings/{{stimulus}}/{{area}}/{{depth}}.json"
POPULATION_DESCRIPTION = (
    f"{RESULTS}/rdms/brain/{{stimulus}}/{{area}}/{{depth}}.json"
    if SOURCE == "rdms"
    else f"{RESULTS}/responses/{{stimulus}}/{{area}}/{{depth}}.json"
)
BRAIN_RDMS = f"{RESULTS}/rdms/brain/{{stimulus}}/{{area}}/{{depth}}.hdf5"
CEILING = f"{RESULTS}/noise_ceiling/{{stimulus}}/{{area}}/{{depth}}.json"

ALLENSDK_PYTHON = Untracked(config["envs"]["allensdk_python"])

NEUROPIXELS = SOURCE in NEUROPIXELS_SOURCES
# The tables' modality column.
MODALITY = {
    "embedded": "2-photon",
    "allen": "2-photon",
    "embedded_neuropixels": "Neuropixels",
    "allen_neuropixels": "Neuropixels",
    "own": "own",
    "rdms": "published RDM",
}[SOURCE]
# The cache the data jobs read: a Brain Observatory (2-photon) or Visual Coding Neuropixels cache,
# generated (embedded, embedded_neuropixels) or real (allen, allen_neuropixels).
if SOURCE == "embedded":
    CACHE_DIR = f"{RESULTS}/embedded/cache"
    MANIFEST = f"{CACHE_DIR}/manifest.json"
elif SOURCE == "embedded_neuropixels":
    CACHE_DIR = f"{RESULTS}/embedded_neuropixels/cache"
    MANIFEST = f"{CACHE_DIR}/manifest.json"
elif SOURCE == "allen_neuropixels":
    MANIFEST = config["data"]["neuropixels"]["manifest"]
    CACHE_DIR = os.path.dirname(MANIFEST) or "."
else:
    CACHE_DIR = os.path.dirname(config["data"]["allen_manifest"]) or "."
    MANIFEST = config["data"]["allen_manifest"]
INDEX = [
    MANIFEST,
    *(
        f"{CACHE_DIR}/{name}"
        for name in (ecephys_index if NEUROPIXELS else allen_index).INDEX_FILES
    ),
]
# area → container ids to keep (None: every container of the area).
CONTAINERS = config["data"]["containers"] or {}


def listed_containers(area):
    return CONTAINERS.get(area)


def containers_argument(area):
    ids = listed_containers(area)
    return "" if not ids else "--containers " + " ".join(map(str, ids))


def cache_files(paths):
    """Files of the real cache a job reads; with data.offline true, a missing one is an error now
    (naming it) rather than a download that a machine without internet cannot make."""
    if config["data"]["offline"]:
        missing = [path for path in paths if not os.path.exists(path)]
        if missing:
            raise ValueError(
                f"data.offline is true, but {len(missing)} file(s) the populations need are not in the cache "
                f"{CACHE_DIR}, e.g. {missing[:3]}: fetch them where there is internet (data.offline: null) "
                "or set data.offline: null to let the download jobs fetch them"
            )
    return paths


def population_experiments(area, depth, stimulus):
    """The experiments a population reads, from the cache's index (fetched first if missing)."""
    checkpoints.allen_index.get()
    return allen_index.population_experiments(
        CACHE_DIR, area, int(depth), CRE_LINE, stimulus, listed_containers(area)
    )


def experiment_files(experiments, kinds):
    return cache_files(
        [
            str(allen_index.experiment_files(CACHE_DIR, experiment["id"])[kind])
            for experiment in experiments
            for kind in kinds
        ]
    )


def recordings_input(wildcards):
    """What a population's AllenSDK job reads: the generated cache (embedded), or the index and the
    NWB (and events) file of every experiment of the population (allen)."""
    if SOURCE == "embedded":
        return {"cache": rules.embedded_cache.output.cache}
    kinds = ["nwb", "events"] if config["responses"]["signal"] == "events" else ["nwb"]
    experiments = population_experiments(
        wildcards.area, wildcards.depth, wildcards.stimulus
    )
    return {"index": INDEX, "files": experiment_files(experiments, kinds)}


def neuropixels_sessions(area, stimulus):
    """The sessions a Neuropixels population reads, from the cache's index (fetched first if missing)."""
    checkpoints.neuropixels_index.get()
    npx = config["data"]["neuropixels"]
    return ecephys_index.population_sessions(
        CACHE_DIR, area, stimulus, npx["sessions"], npx["units"]
    )


def neuropixels_input(wildcards):
    """What a Neuropixels population's AllenSDK job reads: the generated cache, or the index and the
    NWB file of every session with units of the area (real data)."""
    if SOURCE == "embedded_neuropixels":
        return {"cache": rules.embedded_neuropixels_cache.output[0]}
    sessions = neuropixels_sessions(wildcards.area, wildcards.stimulus)
    return {
        "index": INDEX,
        "files": cache_files(
            [
                str(ecephys_index.session_file(CACHE_DIR, session["id"]))
                for session in sessions
            ]
        ),
    }


def template_input(wildcards):
    """The NWB file a stimulus template is read from: the first experiment showing it (areas and
    depths in the config's order), as brainlike.allen_data.first_experiment finds it."""
    if SOURCE == "embedded":
        return {"cache": rules.embedded_cache.output.cache}
    reasons = []
    for area in AREAS:
        for depth in DEPTHS:
            try:
                experiments = population_experiments(area, depth, wildcards.stimulus)
            except ValueError as error:
                reasons.append(str(error))
                continue
            return {"index": INDEX, "files": experiment_files(experiments[:1], ["nwb"])}
    raise ValueError(
        f"no experiment of areas {AREAS}, depths {DEPTHS}, Cre line {CRE_LINE} in {CACHE_DIR} shows "
        f"{wildcards.stimulus}; {reasons[0]}"
    )


def given_stimulus_set(wildcards):
    """A stimulus set the user gives (own data, published RDMs): its folder or file."""
    return config["data"][SOURCE]["stimuli"][wildcards.stimulus]


def given_stimulus_input(wildcards):
    """The files of a given stimulus set: a template, or the images (or the array file)."""
    from brainlike.own_data import stimulus_files

    path = given_stimulus_set(wildcards)
    if is_template(path):
        return {"template": path}
    return {"images": stimulus_files(path)}


def given_image_set(wildcards):
    """The stimuli rule's own_source: the given set, or None for a template (read as Allen's)."""
    path = given_stimulus_set(wildcards)
    return None if is_template(path) else path


def given_template_option(wildcards, option):
    """A template's reading option (blanks for natural_scenes, segment_frames for the movie), as
    for the Brain Observatory's; None for a set of images."""
    if not is_template(given_stimulus_set(wildcards)):
        return None
    key = {"blanks": "natural_scenes", "segment_frames": "natural_movie_one"}[option]
    return config["responses"][key][option] if wildcards.stimulus == key else None


def published_rdm_input(wildcards):
    """Published RDMs: the manifest and the files of a population's RDM."""
    from brainlike import published_rdms

    manifest = config["data"]["rdms"]["manifest"]
    row = published_rdms.population_row(
        manifest, wildcards.area, wildcards.depth, wildcards.stimulus
    )
    files = {"manifest": manifest, "rdm": str(row["file"])}
    if row["stimulus_order"] is not None:
        files["order"] = str(row["stimulus_order"])
    return files


def own_recordings_input(wildcards):
    """Own data: the manifest and every response array of a population's rows."""
    from brainlike.own_data import manifest_rows

    manifest = config["data"]["own"]["manifest"]
    rows = manifest_rows(
        manifest, wildcards.area, int(wildcards.depth), wildcards.stimulus
    )
    return {"manifest": manifest, "arrays": [str(path) for path in rows["file"]]}


def published_rdm_files():
    """Published RDMs: every population's RDM file (the provenance table lists their checksums)."""
    from brainlike import published_rdms

    manifest = config["data"]["rdms"]["manifest"]
    return [
        str(published_rdms.population_row(manifest, area, depth, stimulus)["file"])
        for stimulus in STIMULI
        for area in AREAS
        for depth in DEPTHS
    ]


def running_input(wildcards):
    """AllenSDK's running-modulation statistic, read only where cells are excluded by it (natural_scenes)."""
    if (
        not config["cells"]["exclude_running_modulated"]
        or wildcards.stimulus != "natural_scenes"
        or SOURCE == "own"
    ):
        return {}
    return {"running": rules.running_modulation.output[0]}


def model_files(model):
    """Files a model entry names (a checkpoint or state dict): its jobs rerun when one changes."""
    weights = MODEL_ENTRIES[model]["weights"]
    return (
        [weights["checkpoint"]]
        if isinstance(weights, dict) and "checkpoint" in weights
        else []
    )


def weights_label(weights):
    """The τ table's weights column: imagenet, published:<tag>, checkpoint:<file name> or random_seed:<N>."""
    if isinstance(weights, str):
        return weights
    if "checkpoint" in weights:
        return f"checkpoint:{os.path.basename(weights['checkpoint'])}"
    if "published" in weights:
        return f"published:{weights['published']}"
    return f"random_seed:{weights['random_seed']}"

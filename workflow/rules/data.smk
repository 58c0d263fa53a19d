rule embedded_cache:
    input:
        model_files(config["embedded"]["source_model"]),
    output:
        cache=directory(f"{RESULTS}/embedded"),
    log:
        f"{RESULTS}/logs/embedded_cache.log",
    benchmark:
        f"{RESULTS}/benchmarks/embedded_cache.tsv"
    conda:
        "../../envs/main.yaml"
    threads: 4  # torch forward passes of the source model
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        # Everything of the section but the Neuropixels cache's own block.
        embedded={
            key: value
            for key, value in config["embedded"].items()
            if key != "neuropixels"
        },
        cre_line=CRE_LINE,
        source_model=MODEL_ENTRIES[config["embedded"]["source_model"]],
    script:
        "../../scripts/embedded_cache.py"


if SOURCE == "allen":

    checkpoint allen_index:
        """The cache's container and experiment records, fetched once (online) unless already there."""
        output:
            INDEX,
        log:
            f"{RESULTS}/logs/allen_index.log",
        localrule: True
        conda:
            "../../envs/allensdk.yaml"
        params:
            python=ALLENSDK_PYTHON,
            manifest=MANIFEST,
        shell:
            "{params.python} -m brainlike.allen_data index --manifest {params.manifest} > {log} 2>&1"

    rule allen_cell_metrics:
        """The cache's cell records (running modulation), fetched once (online) unless already there."""
        output:
            [f"{CACHE_DIR}/{name}" for name in allen_index.CELL_METRICS_FILES],
        log:
            f"{RESULTS}/logs/allen_cell_metrics.log",
        localrule: True
        conda:
            "../../envs/allensdk.yaml"
        params:
            python=ALLENSDK_PYTHON,
            manifest=MANIFEST,
        shell:
            "{params.python} -m brainlike.allen_data cell-metrics --manifest {params.manifest} > {log} 2>&1"

    rule download:
        """Fetch and verify one NWB or events file of the real cache (temporary name, resumed, retried)."""
        output:
            f"{CACHE_DIR}/{{folder}}/{{file}}",
        log:
            f"{RESULTS}/logs/download/{{folder}}/{{file}}.log",
        wildcard_constraints:
            folder="ophys_experiment_data|ophys_experiment_events",
            file=r"\d+(\.nwb|_events\.npz)",
        retries: 2  # on top of the per-file retries with backoff
        localrule: True
        conda:
            "../../envs/allensdk.yaml"
        params:
            python=ALLENSDK_PYTHON,
        shell:
            "{params.python} -m brainlike.downloads --file {output} > {log} 2>&1"


if SOURCE == "embedded_neuropixels":

    rule embedded_unit_drives:
        """The planted drives of the embedded Neuropixels units (torch: the main environment)."""
        input:
            model_files(config["embedded"]["source_model"]),
        output:
            f"{RESULTS}/planted/neuropixels_drives.npz",
        log:
            f"{RESULTS}/logs/embedded_unit_drives.log",
        benchmark:
            f"{RESULTS}/benchmarks/embedded_unit_drives.tsv"
        conda:
            "../../envs/main.yaml"
        threads: HALF_THE_CORES
        resources:
            mem_mb=4000,
            runtime=60,
        params:
            embedded={
                **{
                    key: config["embedded"][key]
                    for key in (
                        "seed",
                        "source_model",
                        "areas",
                        "unreliable_fraction",
                        "scene_template_shape",
                        "movie_template_shape",
                        "batch_size",
                    )
                },
                # Which units there are; which of them fail a quality filter is the cache's.
                "neuropixels": {
                    key: config["embedded"]["neuropixels"][key]
                    for key in ("sessions", "units_per_area")
                },
            },
            source_model=MODEL_ENTRIES[config["embedded"]["source_model"]],
        script:
            "../../scripts/embedded_unit_drives.py"

    rule embedded_neuropixels_cache:
        """The embedded Visual Coding Neuropixels cache, written with AllenSDK's own classes."""
        input:
            rules.embedded_unit_drives.output[0],
        output:
            directory(f"{RESULTS}/embedded_neuropixels"),
        log:
            f"{RESULTS}/logs/embedded_neuropixels_cache.log",
        benchmark:
            f"{RESULTS}/benchmarks/embedded_neuropixels_cache.tsv"
        conda:
            "../../envs/allensdk.yaml"
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            python=ALLENSDK_PYTHON,
            embedded=json.dumps(
                {
                    key: config["embedded"][key]
                    for key in (
                        "seed",
                        "source_model",
                        "areas",
                        "scene_trials",
                        "movie_repeats",
                        "neuropixels",
                    )
                },
                sort_keys=True,
            ),
        shell:
            "{params.python} -m brainlike.embedded_ecephys_cache --drives {input} --config '{params.embedded}' "
            "--out {output} > {log} 2>&1"


if SOURCE == "allen_neuropixels":

    checkpoint neuropixels_index:
        """The Neuropixels cache's session, probe, channel and unit tables, fetched once (online) unless already there."""
        output:
            INDEX,
        log:
            f"{RESULTS}/logs/neuropixels_index.log",
        localrule: True
        conda:
            "../../envs/allensdk.yaml"
        params:
            python=ALLENSDK_PYTHON,
        shell:
            "{params.python} -m brainlike.ecephys_data index --manifest {output[0]} > {log} 2>&1"

    rule download_session:
        """Fetch and verify one Neuropixels session's NWB file (temporary name, resumed, retried)."""
        output:
            f"{CACHE_DIR}/session_{{session}}/session_{{session}}.nwb",
        log:
            f"{RESULTS}/logs/download/session_{{session}}.log",
        wildcard_constraints:
            session=r"\d+",
        retries: 2  # on top of the per-file retries with backoff
        localrule: True
        conda:
            "../../envs/allensdk.yaml"
        params:
            python=ALLENSDK_PYTHON,
        shell:
            "{params.python} -m brainlike.downloads --file {output} > {log} 2>&1"


if NEUROPIXELS:

    rule stimulus_template:
        """The stimulus as shown, from the Neuropixels cache's template files (fetched where missing
        unless data.offline is true)."""
        input:
            (
                rules.embedded_neuropixels_cache.output[0]
                if SOURCE == "embedded_neuropixels"
                else INDEX
            ),
        output:
            f"{RESULTS}/templates/{{stimulus}}.npz",
        log:
            f"{RESULTS}/logs/stimulus_template/{{stimulus}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/stimulus_template/{{stimulus}}.tsv"
        conda:
            "../../envs/allensdk.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            python=ALLENSDK_PYTHON,
            manifest=MANIFEST,
            offline=(
                "--offline"
                if SOURCE == "embedded_neuropixels" or config["data"]["offline"]
                else ""
            ),
        shell:
            "{params.python} -m brainlike.ecephys_data template --manifest {params.manifest} "
            "--stimulus {wildcards.stimulus} {params.offline} --out {output} > {log} 2>&1"

    rule recordings:
        """Every session's spike counts of one area's units, read through AllenSDK (its environment only reads)."""
        input:
            unpack(neuropixels_input),
        output:
            npz=f"{RESULTS}/recordings/{{stimulus}}/{{area}}/{{depth}}.npz",
            json=f"{RESULTS}/recordings/{{stimulus}}/{{area}}/{{depth}}.json",
        log:
            f"{RESULTS}/logs/recordings/{{stimulus}}/{{area}}/{{depth}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/recordings/{{stimulus}}/{{area}}/{{depth}}.tsv"
        conda:
            "../../envs/allensdk.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            python=ALLENSDK_PYTHON,
            manifest=MANIFEST,
            sessions=" ".join(
                map(str, config["data"].get("neuropixels", {}).get("sessions") or [])
            ),
            filters=json.dumps(
                config["data"].get("neuropixels", {}).get("units"), sort_keys=True
            ),
            options=lambda wildcards: json.dumps(
                (
                    {
                        "window_s": config["data"]["neuropixels"]["scene_window_s"],
                        "blanks": config["responses"]["natural_scenes"]["blanks"],
                    }
                    if wildcards.stimulus == "natural_scenes"
                    else {
                        "segment_frames": config["responses"]["natural_movie_one"][
                            "segment_frames"
                        ]
                    }
                ),
                sort_keys=True,
            ),
        shell:
            "{params.python} -m brainlike.ecephys_data recordings --manifest {params.manifest} "
            "--area {wildcards.area} --stimulus {wildcards.stimulus} --sessions {params.sessions} "
            "--filters '{params.filters}' --options '{params.options}' --out {output.npz} > {log} 2>&1"


if SOURCE in GIVEN_STIMULI_SOURCES:

    rule stimuli:
        input:
            unpack(given_stimulus_input),
        output:
            f"{RESULTS}/stimuli/{{stimulus}}.npz",
        log:
            f"{RESULTS}/logs/stimuli/{{stimulus}}.log",
        conda:
            "../../envs/main.yaml"
        params:
            own_source=given_image_set,
            blanks=lambda wildcards: given_template_option(wildcards, "blanks"),
            segment_frames=lambda wildcards: given_template_option(
                wildcards, "segment_frames"
            ),
        script:
            "../../scripts/stimuli.py"


if SOURCE == "own":

    rule recordings:
        input:
            unpack(own_recordings_input),
            stimuli=rules.stimuli.output[0],
        output:
            npz=f"{RESULTS}/recordings/{{stimulus}}/{{area}}/{{depth}}.npz",
            json=f"{RESULTS}/recordings/{{stimulus}}/{{area}}/{{depth}}.json",
        log:
            f"{RESULTS}/logs/recordings/{{stimulus}}/{{area}}/{{depth}}.log",
        conda:
            "../../envs/main.yaml"
        params:
            cre_line=CRE_LINE,
        script:
            "../../scripts/own_recordings.py"


if SOURCE in ("embedded", "allen"):

    rule stimulus_template:
        input:
            unpack(template_input),
        output:
            f"{RESULTS}/templates/{{stimulus}}.npz",
        log:
            f"{RESULTS}/logs/stimulus_template/{{stimulus}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/stimulus_template/{{stimulus}}.tsv"
        conda:
            "../../envs/allensdk.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            python=ALLENSDK_PYTHON,
            manifest=MANIFEST,
            # Every experiment shows the same template: where it is read from cannot change it.
            search=Untracked(
                json.dumps(
                    {
                        "areas": AREAS,
                        "depths": [int(depth) for depth in DEPTHS],
                        "cre_line": CRE_LINE,
                        "containers": CONTAINERS,
                    }
                )
            ),
        shell:
            "{params.python} -m brainlike.allen_data template --manifest {params.manifest} "
            "--stimulus {wildcards.stimulus} --search '{params.search}' --out {output} > {log} 2>&1"

    rule recordings:
        """Every experiment's responses of one population, read through AllenSDK (its environment only reads)."""
        input:
            unpack(recordings_input),
        output:
            npz=f"{RESULTS}/recordings/{{stimulus}}/{{area}}/{{depth}}.npz",
            json=f"{RESULTS}/recordings/{{stimulus}}/{{area}}/{{depth}}.json",
        log:
            f"{RESULTS}/logs/recordings/{{stimulus}}/{{area}}/{{depth}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/recordings/{{stimulus}}/{{area}}/{{depth}}.tsv"
        conda:
            "../../envs/allensdk.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            python=ALLENSDK_PYTHON,
            manifest=MANIFEST,
            cre_line=CRE_LINE,
            containers=lambda wildcards: containers_argument(wildcards.area),
            # The stimulus's own reading options; how sessions are pooled is the responses rule's.
            options=lambda wildcards: json.dumps(
                {
                    "signal": config["responses"]["signal"],
                    **{
                        key: value
                        for key, value in config["responses"][
                            wildcards.stimulus
                        ].items()
                        if key != "sessions"
                    },
                },
                sort_keys=True,
            ),
        shell:
            "{params.python} -m brainlike.allen_data recordings --manifest {params.manifest} "
            "--cre-line {params.cre_line} --area {wildcards.area} --depth {wildcards.depth} {params.containers} "
            "--stimulus {wildcards.stimulus} --options '{params.options}' --out {output.npz} > {log} 2>&1"

    rule running_modulation:
        """AllenSDK's running-modulation p-value of every cell of one population (natural_scenes)."""
        input:
            (
                rules.embedded_cache.output.cache
                if SOURCE == "embedded"
                else [
                    *INDEX,
                    *[
                        f"{CACHE_DIR}/{name}"
                        for name in allen_index.CELL_METRICS_FILES
                    ],
                ]
            ),
        output:
            f"{RESULTS}/recordings/natural_scenes/{{area}}/{{depth}}.running.json",
        log:
            f"{RESULTS}/logs/running_modulation/{{area}}/{{depth}}.log",
        conda:
            "../../envs/allensdk.yaml"
        params:
            python=ALLENSDK_PYTHON,
            manifest=MANIFEST,
            cre_line=CRE_LINE,
            containers=lambda wildcards: containers_argument(wildcards.area),
        shell:
            "{params.python} -m brainlike.allen_data running-modulation --manifest {params.manifest} "
            "--cre-line {params.cre_line} --area {wildcards.area} --depth {wildcards.depth} {params.containers} "
            "--out {output} > {log} 2>&1"


if SOURCE not in GIVEN_STIMULI_SOURCES:

    rule stimuli:
        input:
            template=rules.stimulus_template.output[0],
        output:
            f"{RESULTS}/stimuli/{{stimulus}}.npz",
        log:
            f"{RESULTS}/logs/stimuli/{{stimulus}}.log",
        conda:
            "../../envs/main.yaml"
        params:
            own_source=None,
            blanks=lambda wildcards: (
                config["responses"]["natural_scenes"]["blanks"]
                if wildcards.stimulus == "natural_scenes"
                else None
            ),
            segment_frames=lambda wildcards: (
                config["responses"]["natural_movie_one"]["segment_frames"]
                if wildcards.stimulus == "natural_movie_one"
                else None
            ),
        script:
            "../../scripts/stimuli.py"


rule responses:
    """One population: its recordings pooled, its cells selected (main environment)."""
    input:
        unpack(running_input),
        recordings=RECORDINGS,
        sidecar=RECORDINGS_SIDECAR,
    output:
        npz=f"{RESULTS}/responses/{{stimulus}}/{{area}}/{{depth}}.npz",
        json=f"{RESULTS}/responses/{{stimulus}}/{{area}}/{{depth}}.json",
    log:
        f"{RESULTS}/logs/responses/{{stimulus}}/{{area}}/{{depth}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/responses/{{stimulus}}/{{area}}/{{depth}}.tsv"
    conda:
        "../../envs/main.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        modality=MODALITY,
        cells=config["cells"],
        movie_sessions=lambda wildcards: (
            config["responses"]["natural_movie_one"]["sessions"]
            if wildcards.stimulus == "natural_movie_one"
            else None
        ),
    script:
        "../../scripts/responses.py"


if SOURCE != "rdms":

    rule neural:
        """Stage target: every population's response tensor."""
        input:
            expand(
                rules.responses.output.npz, stimulus=STIMULI, area=AREAS, depth=DEPTHS
            ),

rule embedded_cache:
    output:
        cache=directory(f"{RESULTS}/embedded"),
    log:
        f"{RESULTS}/logs/embedded_cache.log",
    benchmark:
        f"{RESULTS}/benchmarks/embedded_cache.tsv"
    params:
        embedded=config["embedded"],
        cre_line=config["data"]["cre_line"],
        models=config["models"],
    threads: 4  # torch forward passes of the source model
    resources:
        mem_mb=4000,
    script:
        "../../scripts/make_embedded_cache.py"


_ALLEN_ARGS = (
    f"--manifest {cache_manifest()} {'--offline' if EMBEDDED else ''} "
    f"--cre-line {config['data']['cre_line']} "
    f"--segment-frames {config['responses']['movie_segment_frames']}"
    + ("" if config["data"]["containers"] is None else f" --containers {' '.join(map(str, config['data']['containers']))}")
)


rule stimulus_templates:
    input:
        cache_input,
    output:
        f"{RESULTS}/stimuli/{{stimulus}}.npz",
    log:
        f"{RESULTS}/logs/stimulus_templates/{{stimulus}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/stimulus_templates/{{stimulus}}.tsv"
    params:
        areas=" ".join(AREAS),
        depths=" ".join(DEPTHS),
    resources:
        mem_mb=2000,
    conda:
        "../../envs/allensdk.yaml"
    shell:
        "{ALLENSDK_PYTHON} -m brainlike.allen_data stimulus {_ALLEN_ARGS} --stimulus {wildcards.stimulus} "
        "--areas {params.areas} --depths {params.depths} --out {output} > {log} 2>&1"


rule responses:
    input:
        cache_input,
    output:
        f"{RESULTS}/responses/{{stimulus}}/{{area}}/{{depth}}.npz",
    log:
        f"{RESULTS}/logs/responses/{{stimulus}}/{{area}}/{{depth}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/responses/{{stimulus}}/{{area}}/{{depth}}.tsv"
    params:
        signal=config["responses"]["signal"],
        window=config["responses"]["scene_window_frames"],
    resources:
        mem_mb=2000,
    conda:
        "../../envs/allensdk.yaml"
    shell:
        "{ALLENSDK_PYTHON} -m brainlike.allen_data responses {_ALLEN_ARGS} --stimulus {wildcards.stimulus} "
        "--areas {wildcards.area} --depths {wildcards.depth} --signal {params.signal} "
        "--scene-window {params.window} --out {output} > {log} 2>&1"


rule neural:
    """Stage target: every population's response tensor."""
    input:
        expand(rules.responses.output, stimulus=STIMULI, area=AREAS, depth=DEPTHS),

rule embedded_cache:
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
        embedded=config["embedded"],
        cre_line=config["data"]["cre_line"],
        models=config["models"],
    script:
        "../../scripts/make_embedded_cache.py"


rule download_container:
    """Fetch, verify and record every NWB and events file of one real Allen container."""
    output:
        f"{ALLEN_DIR}/verified/{{container}}.json",
    log:
        f"{RESULTS}/logs/download_container/{{container}}.log",
    retries: 2  # on top of the per-file retries with backoff
    localrule: True
    conda:
        "../../envs/allensdk.yaml"
    params:
        python=ALLENSDK_PYTHON,
        manifest=config["data"]["allen_manifest"],
    shell:
        "{params.python} -m brainlike.downloads --manifest {params.manifest} --container {wildcards.container} "
        "--out {output} > {log} 2>&1"


if SOURCE == "own":

    rule stimulus_templates:
        output:
            f"{RESULTS}/stimuli/{{stimulus}}.npz",
        log:
            f"{RESULTS}/logs/stimulus_templates/{{stimulus}}.log",
        conda:
            "../../envs/main.yaml"
        params:
            source=lambda wildcards: config["data"]["own"]["stimuli"][
                wildcards.stimulus
            ],
        script:
            "../../scripts/own_stimuli.py"

    rule responses:
        input:
            stimuli=f"{RESULTS}/stimuli/{{stimulus}}.npz",
        output:
            f"{RESULTS}/responses/{{stimulus}}/{{area}}/{{depth}}.npz",
        log:
            f"{RESULTS}/logs/responses/{{stimulus}}/{{area}}/{{depth}}.log",
        conda:
            "../../envs/main.yaml"
        params:
            manifest=lambda wildcards: config["data"]["own"]["manifest"],
            cre_line=config["data"]["cre_line"],
            options={
                **config["responses"],
                "cells": config["cells"],
                "seed": config["rsa"]["seed"],
            },
        script:
            "../../scripts/own_responses.py"

else:

    rule stimulus_templates:
        input:
            cache_input,
        output:
            f"{RESULTS}/stimuli/{{stimulus}}.npz",
        log:
            f"{RESULTS}/logs/stimulus_templates/{{stimulus}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/stimulus_templates/{{stimulus}}.tsv"
        conda:
            "../../envs/allensdk.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            python=ALLENSDK_PYTHON,
            cache=ALLEN_ARGS,
            area=template_area(),
            containers=containers_argument(template_area()),
            depths=" ".join(DEPTHS),
        shell:
            "{params.python} -m brainlike.allen_data stimulus {params.cache} --stimulus {wildcards.stimulus} "
            "--areas {params.area} --depths {params.depths} {params.containers} --out {output} > {log} 2>&1"

    rule responses:
        input:
            cache_input,
        output:
            f"{RESULTS}/responses/{{stimulus}}/{{area}}/{{depth}}.npz",
        log:
            f"{RESULTS}/logs/responses/{{stimulus}}/{{area}}/{{depth}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/responses/{{stimulus}}/{{area}}/{{depth}}.tsv"
        conda:
            "../../envs/allensdk.yaml"
        resources:
            mem_mb=2000,
            runtime=60,
        params:
            python=ALLENSDK_PYTHON,
            cache=ALLEN_ARGS,
            containers=lambda wildcards: containers_argument(wildcards.area),
        shell:
            "{params.python} -m brainlike.allen_data responses {params.cache} --stimulus {wildcards.stimulus} "
            "--areas {wildcards.area} --depths {wildcards.depth} {params.containers} --out {output} > {log} 2>&1"


rule neural:
    """Stage target: every population's response tensor."""
    input:
        expand(rules.responses.output, stimulus=STIMULI, area=AREAS, depth=DEPTHS),

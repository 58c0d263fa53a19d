rule extract_activations:
    input:
        stimuli=rules.stimuli.output[0],
        weights=lambda wildcards: model_files(wildcards.model),
    output:
        store=directory(f"{RESULTS}/activations/{{model}}/{{stimulus}}.zarr"),
    log:
        f"{RESULTS}/logs/activations/{{model}}/{{stimulus}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/activations/{{model}}/{{stimulus}}.tsv"
    conda:
        "../../envs/main.yaml"
    threads: HALF_THE_CORES  # torch intra-op threads
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=config["activations"]["gpus"],
    params:
        model=lambda wildcards: MODEL_ENTRIES[wildcards.model],
        batch_size=config["activations"]["batch_size"],
        device=config["activations"]["device"],
    script:
        "../../scripts/extract_activations.py"


rule activations:
    """Stage target: every model's activations for every stimulus."""
    input:
        expand(rules.extract_activations.output, model=MODELS, stimulus=STIMULI),

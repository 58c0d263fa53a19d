rule cka:
    """Debiased linear CKA of every layer of one model with every population's half-trial
    responses (metric cka; see brainlike.cka)."""
    input:
        store=rules.extract_activations.output.store,
        responses=expand(
            rules.responses.output.npz, area=AREAS, depth=DEPTHS, allow_missing=True
        ),
    output:
        table=f"{RESULTS}/cka/{{model}}/{{stimulus}}.parquet",
        # The resampled scores behind the intervals and held-out choices, for group statistics.
        resamples=f"{RESULTS}/cka/{{model}}/{{stimulus}}.resamples.npz",
    log:
        f"{RESULTS}/logs/cka/{{model}}/{{stimulus}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cka/{{model}}/{{stimulus}}.tsv"
    conda:
        "../../envs/main.yaml"
    threads: 4  # BLAS threads of the Gram matrix products
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        populations=POPULATIONS,
        seed=config["statistics"]["seed"],
        splits=config["statistics"]["splits"],
        stimulus_bootstraps=config["statistics"]["stimulus_bootstraps"],
        container_bootstraps=config["statistics"]["container_bootstraps"],
        permutations=config["statistics"]["permutations"],
        ci_level=config["statistics"]["ci_level"],
        best_layer_folds=config["statistics"]["best_layer_folds"],
        continuous=lambda wildcards: continuous_stimulus(wildcards.stimulus),
        weights=lambda wildcards: weights_label(
            MODEL_ENTRIES[wildcards.model]["weights"]
        ),
    script:
        "../../scripts/cka.py"

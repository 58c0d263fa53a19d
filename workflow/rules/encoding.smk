rule encode:
    """Cross-validated ridge encoding of every population's reliable cells from every layer of one
    model (metric ridge; see brainlike.encoding)."""
    input:
        store=rules.extract_activations.output.store,
        responses=expand(
            rules.responses.output.npz, area=AREAS, depth=DEPTHS, allow_missing=True
        ),
    output:
        table=f"{RESULTS}/ridge/{{model}}/{{stimulus}}.parquet",
        # The resampled scores behind the intervals and held-out choices, for group statistics.
        resamples=f"{RESULTS}/ridge/{{model}}/{{stimulus}}.resamples.npz",
    log:
        f"{RESULTS}/logs/encode/{{model}}/{{stimulus}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/encode/{{model}}/{{stimulus}}.tsv"
    conda:
        "../../envs/main.yaml"
    # One BLAS thread: the fits are products with 94 × 94 fold kernels and elementwise work, which a
    # second thread sped up 1.06× for 1.6× the CPU time (the small config's scenes); jobs side by
    # side use the cores better.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=int(str(config["encoding"]["device"]).startswith("cuda")),
    params:
        populations=POPULATIONS,
        seed=config["statistics"]["seed"],
        stimulus_bootstraps=config["statistics"]["stimulus_bootstraps"],
        container_bootstraps=config["statistics"]["container_bootstraps"],
        permutations=config["statistics"]["permutations"],
        ci_level=config["statistics"]["ci_level"],
        best_layer_folds=config["statistics"]["best_layer_folds"],
        continuous=lambda wildcards: continuous_stimulus(wildcards.stimulus),
        alphas=config["encoding"]["alphas"],
        folds=config["encoding"]["folds"],
        inner_folds=config["encoding"]["inner_folds"],
        reliability_threshold=config["encoding"]["reliability_threshold"],
        reliability_splits=config["encoding"]["reliability_splits"],
        device=config["encoding"]["device"],
        weights=lambda wildcards: weights_label(
            MODEL_ENTRIES[wildcards.model]["weights"]
        ),
    script:
        "../../scripts/encode.py"

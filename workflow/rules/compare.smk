rule noise_ceiling:
    input:
        brain=rules.brain_rdms.output,
    output:
        f"{RESULTS}/noise_ceiling/{{stimulus}}/{{area}}/{{depth}}.json",
    log:
        f"{RESULTS}/logs/noise_ceiling/{{stimulus}}/{{area}}/{{depth}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/noise_ceiling/{{stimulus}}/{{area}}/{{depth}}.tsv"
    conda:
        "../../envs/main.yaml"
    threads: HALF_THE_CORES  # numba threads of the pair counts
    resources:
        mem_mb=1000,
        runtime=30,
        gpu=STATISTICS_GPUS,
    params:
        seed=config["statistics"]["seed"],
        permutations=config["statistics"]["permutations"],
        continuous=lambda wildcards: continuous_stimulus(wildcards.stimulus),
        comparison=config["rsa"]["comparison"],
        spearman_brown=config["rsa"]["spearman_brown"],
        # The Kendall counts are the same integers on every device: switching reruns nothing.
        device=Untracked(config["statistics"]["device"]),
    script:
        "../../scripts/noise_ceiling.py"


rule compare:
    input:
        model=rules.model_rdms.output,
        brain=expand(
            rules.brain_rdms.output, area=AREAS, depth=DEPTHS, allow_missing=True
        ),
        # Each population's ceiling, merged into the table as every metric's job merges its own.
        ceilings=expand(
            rules.noise_ceiling.output, area=AREAS, depth=DEPTHS, allow_missing=True
        ),
    output:
        table=f"{RESULTS}/tau/{{model}}/{{stimulus}}.parquet",
        # The resampled scores behind the intervals and held-out choices, for group statistics.
        resamples=f"{RESULTS}/tau/{{model}}/{{stimulus}}.resamples.npz",
    log:
        f"{RESULTS}/logs/compare/{{model}}/{{stimulus}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/compare/{{model}}/{{stimulus}}.tsv"
    conda:
        "../../envs/main.yaml"
    threads: HALF_THE_CORES  # numba threads of the pair counts
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=STATISTICS_GPUS,
    params:
        comparison=config["rsa"]["comparison"],
        seed=config["statistics"]["seed"],
        stimulus_bootstraps=config["statistics"]["stimulus_bootstraps"],
        permutations=config["statistics"]["permutations"],
        ci_level=config["statistics"]["ci_level"],
        best_layer_folds=config["statistics"]["best_layer_folds"],
        continuous=lambda wildcards: continuous_stimulus(wildcards.stimulus),
        # The Kendall counts are the same integers on every device: switching reruns nothing.
        device=Untracked(config["statistics"]["device"]),
        weights=lambda wildcards: weights_label(
            MODEL_ENTRIES[wildcards.model]["weights"]
        ),
    script:
        "../../scripts/compare.py"


rule taus:
    """Stage target: τ of every model layer against every population."""
    input:
        expand(rules.compare.output.table, model=MODELS, stimulus=STIMULI),
        expand(rules.noise_ceiling.output, stimulus=STIMULI, area=AREAS, depth=DEPTHS),

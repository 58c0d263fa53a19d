rule tables:
    input:
        scores=expand(rules.compare.output, model=MODELS, stimulus=STIMULI),
        ceilings=expand(
            rules.noise_ceiling.output, stimulus=STIMULI, area=AREAS, depth=DEPTHS
        ),
        responses=expand(
            rules.responses.output.json, stimulus=STIMULI, area=AREAS, depth=DEPTHS
        ),
    output:
        parquet=f"{RESULTS}/tables/tau.parquet",
        csv=f"{RESULTS}/tables/tau.csv",
        populations=f"{RESULTS}/tables/populations.csv",
    log:
        f"{RESULTS}/logs/tables.log",
    conda:
        "../../envs/main.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        area_notes=config["data"]["area_notes"],
        alpha=config["rsa"]["alpha"],
    script:
        "../../scripts/tables.py"


rule figure:
    input:
        table=rules.tables.output.parquet,
    output:
        f"{RESULTS}/figures/{{stimulus}}/{{depth}}um.png",
    log:
        f"{RESULTS}/logs/figure/{{stimulus}}/{{depth}}.log",
    conda:
        "../../envs/main.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    script:
        "../../scripts/figure.py"


rule figures:
    """Stage target: one figure per stimulus × depth, one panel per area."""
    input:
        expand(rules.figure.output, stimulus=STIMULI, depth=DEPTHS),

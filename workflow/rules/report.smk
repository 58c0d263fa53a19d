rule tables:
    input:
        scores=metric_files(
            "table",
            [(m, model, s) for m in METRICS for model in MODELS for s in STIMULI],
        ),
        populations=expand(
            POPULATION_DESCRIPTION, stimulus=STIMULI, area=AREAS, depth=DEPTHS
        ),
    output:
        parquet=f"{RESULTS}/tables/scores.parquet",
        csv=report(
            f"{RESULTS}/tables/scores.csv",
            caption="../report/scores.rst",
            category="Tables",
        ),
        populations=report(
            f"{RESULTS}/tables/populations.csv",
            caption="../report/populations.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/tables.log",
    conda:
        "../../envs/main.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        area_notes=config["data"]["area_notes"],
        alpha=config["statistics"]["alpha"],
        ceiling_floor=config["statistics"]["ceiling_floor"],
        ceiling_squared_max_se=config["statistics"]["ceiling_squared_max_se"],
        fdr_family=config["statistics"]["fdr_family"],
    script:
        "../../scripts/tables.py"


rule groups:
    """Group statistics, each group's held-out best layers, and the contrasts between groups."""
    input:
        table=rules.tables.output.parquet,
        resamples=metric_files("resamples", GROUPED),
    output:
        groups=f"{RESULTS}/tables/groups.parquet",
        groups_csv=report(
            f"{RESULTS}/tables/groups.csv",
            caption="../report/groups.rst",
            category="Tables",
        ),
        best_layers=f"{RESULTS}/tables/group_best_layers.parquet",
        best_layers_csv=report(
            f"{RESULTS}/tables/group_best_layers.csv",
            caption="../report/group_best_layers.rst",
            category="Tables",
        ),
        contrasts=f"{RESULTS}/tables/contrasts.parquet",
        contrasts_csv=report(
            f"{RESULTS}/tables/contrasts.csv",
            caption="../report/contrasts.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/groups.log",
    benchmark:
        f"{RESULTS}/benchmarks/groups.tsv"
    conda:
        "../../envs/main.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        triples=GROUPED,
        groups=GROUPS,
        contrasts=config["contrasts"],
        areas=AREAS,
        ci_level=config["statistics"]["ci_level"],
        seed=config["statistics"]["seed"],
        permutations=config["statistics"]["permutations"],
    script:
        "../../scripts/groups.py"


rule figure:
    """The reference figure of one stimulus × depth: raw and noise-corrected, PNG and SVG, and
    interactive (HTML with every value on hover, and its Plotly JSON); and the RDM views of its
    populations (the brain and best-layer RDMs behind the scores: they change only with them).
    """
    input:
        table=rules.tables.output.parquet,
        groups=rules.groups.output.groups,
        brain=lambda wildcards: expand(
            BRAIN_RDMS,
            stimulus=wildcards.stimulus,
            area=AREAS,
            depth=DEPTH_OF_STEM[wildcards.depth_stem],
        ),
        models=lambda wildcards: expand(
            rules.model_rdms.output, model=MODELS, stimulus=wildcards.stimulus
        ),
        stimuli=rules.stimuli.output[0],
    output:
        png=report(
            f"{RESULTS}/figures/{{metric}}/{{stimulus}}/{{depth_stem}}.png",
            caption="../report/figure.rst",
            category="Figures",
            subcategory="{metric}: {stimulus}",
            labels={"depth": "{depth_stem}", "view": "raw"},
        ),
        svg=f"{RESULTS}/figures/{{metric}}/{{stimulus}}/{{depth_stem}}.svg",
        corrected_png=report(
            f"{RESULTS}/figures/{{metric}}/{{stimulus}}/{{depth_stem}}_noise_corrected.png",
            caption="../report/figure_noise_corrected.rst",
            category="Figures",
            subcategory="{metric}: {stimulus}",
            labels={"depth": "{depth_stem}", "view": "noise-corrected"},
        ),
        corrected_svg=f"{RESULTS}/figures/{{metric}}/{{stimulus}}/{{depth_stem}}_noise_corrected.svg",
        # Self-contained (plotly.js inside); the report shows it on the interactive_figures page.
        html=f"{RESULTS}/figures/{{metric}}/{{stimulus}}/{{depth_stem}}.html",
        plotly=f"{RESULTS}/figures/{{metric}}/{{stimulus}}/{{depth_stem}}.plotly.json",
        rdms=report(
            f"{RESULTS}/figures/{{metric}}/{{stimulus}}/{{depth_stem}}_rdms.png",
            caption="../report/rdm_views.rst",
            category="Figures",
            subcategory="{metric}: {stimulus}",
            labels={"depth": "{depth_stem}", "view": "RDMs"},
        ),
    log:
        f"{RESULTS}/logs/figure/{{metric}}/{{stimulus}}/{{depth_stem}}.log",
    conda:
        "../../envs/main.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        groups=GROUPS,
        models=MODELS,
        areas=AREAS,
        palette=config["figures"]["palette"],
        depth=lambda wildcards: DEPTH_OF_STEM[wildcards.depth_stem],
        # Thumbnails of the stimuli along the RDM views, except for the frames of a movie.
        continuous=lambda wildcards: continuous_stimulus(wildcards.stimulus),
    script:
        "../../scripts/figure.py"


rule best_layer_figure:
    """Each group's held-out best layer per area, with its contrasts' q and the hierarchy ρ (static,
    and interactive with every value on hover)."""
    input:
        table=rules.tables.output.parquet,
        best_layers=rules.groups.output.best_layers,
        contrasts=rules.groups.output.contrasts,
    output:
        png=report(
            f"{RESULTS}/figures/{{metric}}/{{stimulus}}/best_layers.png",
            caption="../report/best_layers.rst",
            category="Figures",
            subcategory="{metric}: {stimulus}",
            labels={"depth": "all", "view": "held-out best layers"},
        ),
        svg=f"{RESULTS}/figures/{{metric}}/{{stimulus}}/best_layers.svg",
        html=f"{RESULTS}/figures/{{metric}}/{{stimulus}}/best_layers.html",
        plotly=f"{RESULTS}/figures/{{metric}}/{{stimulus}}/best_layers.plotly.json",
    log:
        f"{RESULTS}/logs/best_layer_figure/{{metric}}/{{stimulus}}.log",
    conda:
        "../../envs/main.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        areas=AREAS,
        palette=config["figures"]["palette"],
    script:
        "../../scripts/best_layer_figure.py"


INTERACTIVE = {
    **{
        f"{metric} · {stimulus} · {depth_title(depth)}": expand(
            rules.figure.output.plotly,
            metric=metric,
            stimulus=stimulus,
            depth_stem=depth_stem(depth),
        )[0]
        for metric in METRICS
        for stimulus in STIMULI
        for depth in DEPTHS
    },
    **{
        f"{metric} · {stimulus} · held-out best layers": expand(
            rules.best_layer_figure.output.plotly, metric=metric, stimulus=stimulus
        )[0]
        for metric in METRICS
        for stimulus in (STIMULI if GROUPS else [])
    },
}


rule interactive_figures:
    """Every interactive figure of the run on one offline page, plotly.js in it once: the report's
    view of them (each standalone HTML file carries its own copy of the library)."""
    input:
        list(INTERACTIVE.values()),
    output:
        report(
            f"{RESULTS}/figures/interactive.html",
            caption="../report/interactive.rst",
            category="Figures",
            subcategory="interactive",
            labels={"figures": "every interactive figure of the run"},
        ),
    log:
        f"{RESULTS}/logs/interactive_figures.log",
    conda:
        "../../envs/main.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        titles=list(INTERACTIVE),
    script:
        "../../scripts/interactive_figures.py"


rule figures:
    """Stage target: the reference figure per metric × stimulus × depth, the best-layer summary
    per metric × stimulus when the config declares groups, and the page of interactive figures.
    """
    input:
        expand(
            rules.figure.output,
            metric=METRICS,
            stimulus=STIMULI,
            depth_stem=DEPTH_OF_STEM,
        ),
        expand(
            rules.best_layer_figure.output,
            metric=METRICS,
            stimulus=STIMULI if GROUPS else [],
        ),
        rules.interactive_figures.output,


rule provenance:
    """What the results were computed from (software, commit, recordings, weight files) and the
    config, for the report. It reruns whenever a result does, and nothing depends on it.
    """
    input:
        tables=rules.tables.output.csv,
        groups=rules.groups.output.groups_csv,
        figures=rules.figures.input,
        recordings=(
            []
            if SOURCE == "rdms"
            else expand(
                rules.recordings.output.json,
                stimulus=STIMULI,
                area=AREAS,
                depth=DEPTHS,
            )
        ),
        published_rdms=published_rdm_files() if SOURCE == "rdms" else [],
        weights=[path for model in MODELS for path in model_files(model)],
    output:
        table=report(
            f"{RESULTS}/provenance/provenance.csv",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
        config=report(
            f"{RESULTS}/provenance/config.yaml",
            caption="../report/config.rst",
            category="Provenance",
        ),
    log:
        f"{RESULTS}/logs/provenance.log",
    localrule: True
    conda:
        "../../envs/main.yaml"
    params:
        weight_files={model: model_files(model) for model in MODELS},
    script:
        "../../scripts/provenance.py"

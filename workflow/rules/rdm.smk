rule model_rdms:
    input:
        store=rules.extract_activations.output.store,
    output:
        f"{RESULTS}/rdms/models/{{model}}/{{stimulus}}.hdf5",
    log:
        f"{RESULTS}/logs/model_rdms/{{model}}/{{stimulus}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/model_rdms/{{model}}/{{stimulus}}.tsv"
    conda:
        "../../envs/main.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        distance=config["rsa"]["distance"],
    script:
        "../../scripts/model_rdms.py"


if SOURCE == "rdms":

    rule brain_rdms:
        """A published RDM, checked and put into its stimulus set's order, as the population's brain-RDM
        store (the all-trial RDM only) beside the population's description."""
        input:
            unpack(published_rdm_input),
            stimuli=rules.stimuli.output[0],
        output:
            store=BRAIN_RDMS,
            description=POPULATION_DESCRIPTION,
        log:
            f"{RESULTS}/logs/brain_rdms/{{stimulus}}/{{area}}/{{depth}}.log",
        conda:
            "../../envs/main.yaml"
        params:
            modality=MODALITY,
            cre_line=CRE_LINE,
        script:
            "../../scripts/published_rdms.py"

else:

    rule brain_rdms:
        input:
            responses=RESPONSES,
        output:
            BRAIN_RDMS,
        log:
            f"{RESULTS}/logs/brain_rdms/{{stimulus}}/{{area}}/{{depth}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/brain_rdms/{{stimulus}}/{{area}}/{{depth}}.tsv"
        conda:
            "../../envs/main.yaml"
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            seed=config["statistics"]["seed"],
            splits=config["statistics"]["splits"],
            distance=config["rsa"]["distance"],
            container_bootstraps=config["statistics"]["container_bootstraps"],
        script:
            "../../scripts/brain_rdms.py"


rule rdms:
    """Stage target: every brain and model RDM."""
    input:
        expand(rules.model_rdms.output, model=MODELS, stimulus=STIMULI),
        expand(BRAIN_RDMS, stimulus=STIMULI, area=AREAS, depth=DEPTHS),

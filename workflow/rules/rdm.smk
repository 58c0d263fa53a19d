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


rule brain_rdms:
    input:
        responses=rules.responses.output.npz,
    output:
        f"{RESULTS}/rdms/brain/{{stimulus}}/{{area}}/{{depth}}.hdf5",
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


if SOURCE == "rdms":

    rule published_rdm:
        """A published RDM, checked and put into its stimulus set's order, as the population's brain-RDM
        store (the all-trial RDM only), beside the population's description and its ceiling as published.
        """
        input:
            unpack(published_rdm_input),
            stimuli=rules.stimuli.output[0],
        output:
            store=BRAIN_RDMS,
            description=POPULATION_DESCRIPTION,
            ceiling=CEILING,
        log:
            f"{RESULTS}/logs/published_rdm/{{stimulus}}/{{area}}/{{depth}}.log",
        conda:
            "../../envs/main.yaml"
        params:
            modality=MODALITY,
            cre_line=CRE_LINE,
        script:
            "../../scripts/published_rdm.py"

    # A published RDM has no trials: its store and ceiling are the published ones, never computed.
    ruleorder: published_rdm > brain_rdms
    ruleorder: published_rdm > noise_ceiling


rule rdms:
    """Stage target: every brain and model RDM."""
    input:
        expand(rules.model_rdms.output, model=MODELS, stimulus=STIMULI),
        expand(rules.brain_rdms.output, stimulus=STIMULI, area=AREAS, depth=DEPTHS),

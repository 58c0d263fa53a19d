"""The repository's notebooks run against a finished run's results (the suite's small run)."""

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOKS = sorted((ROOT / "workflow" / "notebooks").glob("*.ipynb"))


def execute(path, results, tmp_path, **population):
    """Run a notebook with its parameters cell pointed at ``results`` (what a user edits), in tmp_path."""
    notebook = nbformat.read(path, as_version=4)
    [parameters] = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert 'RESULTS = Path("results")' in parameters.source
    choices = "\n".join(f"{key} = {value!r}" for key, value in population.items())
    parameters.source = parameters.source.replace('RESULTS = Path("results")', f"RESULTS = Path({str(results)!r})") + f"\n{choices}"
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return notebook


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
@pytest.mark.parametrize("stimulus", ["natural_scenes", "natural_movie_one"])
def test_notebooks_run_against_a_results_folder(path, stimulus, workflow_run, tmp_path):
    notebook = execute(path, workflow_run / "results", tmp_path, STIMULUS=stimulus, AREA="VISl", DEPTH=275)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    if path.stem == "visualisation":
        # Scores, RDM heat maps, MDS, and the scenes' thumbnails (a movie's frames are in time order).
        figures = sum(output.output_type == "display_data" and "image/png" in output.data for output in outputs)
        assert figures == (4 if stimulus == "natural_scenes" else 3)


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), path.name

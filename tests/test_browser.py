"""The report and every interactive figure of the suite's run, opened in a real browser (Debian's
chromium, driven headless by playwright): no console error, every Plotly graph drawn with the
table's values, the raw / noise-corrected switch changing what is drawn, and each figure inside a
1600 px window. Screenshots are written to ``browser_screenshots`` in the test's folder."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import small_config

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium: scripts/run-tests.sh installs Debian's package when it runs as root with apt-get",
)
WINDOW = {"width": 1600, "height": 1000}
STIMULI = ["natural_scenes", "natural_movie_one"]

# What Plotly drew: per trace of the graph, its meta and the y of each point it computed.
DRAWN = """graph => graph.calcdata.map((points, index) => ({
    meta: graph._fullData[index].meta, visible: graph._fullData[index].visible,
    y: points.map(point => point.y ?? null),
}))"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # No sandbox: the suite runs as root in CI, where chromium refuses its sandbox.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    return tmp_path_factory.mktemp("browser_screenshots")


def open_page(browser, url: str):
    """A page at ``url`` in a 1600 × 1000 window, and the list its console errors are added to."""
    page = browser.new_page(viewport=WINDOW)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, errors


def rendered(page) -> list[dict]:
    """Each graph on the page once Plotly has drawn it: its traces as drawn, its SVG trace layers and
    its width against the window's."""
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
    return page.evaluate(f"""() => [...document.querySelectorAll('.js-plotly-plot')].map(graph => ({{
        traces: ({DRAWN})(graph),
        layers: graph.querySelectorAll('g.scatterlayer g.trace').length,
        width: graph.getBoundingClientRect().right,
        legend: graph.querySelector('g.legend') ? graph.querySelector('g.legend').getBoundingClientRect().right : 0,
        window: window.innerWidth,
        scrolls: document.documentElement.scrollWidth > window.innerWidth,
    }}))""")


def check_drawn(graph: dict, name: str) -> None:
    visible = [trace for trace in graph["traces"] if trace["visible"] is True]
    assert visible and graph["layers"] >= len(visible), (name, graph["layers"], len(visible))
    assert graph["width"] <= graph["window"] and graph["legend"] <= graph["window"] and not graph["scrolls"], name


def open_graph(browser, path):
    """A standalone figure page once its one graph is drawn, checked: the page, its error list and the graph."""
    page, errors = open_page(browser, path.as_uri())
    (graph,) = rendered(page)
    check_drawn(graph, path.name)
    return page, errors, graph


def drawn_scores(graph: dict, view: str, series: str, area: str) -> list:
    (trace,) = [t for t in graph["traces"] if t["meta"] == {"view": view, "series": series, "area": area}]
    assert trace["visible"] is True, (view, series, area)
    return trace["y"]


def test_the_report_opens_without_errors(browser, workflow_report, screenshots):
    page, errors = open_page(browser, workflow_report.as_uri())
    page.wait_for_selector("text=Figures")  # the report's own app has drawn its menu of results
    page.screenshot(path=screenshots / "report.png")
    assert not errors, errors


def test_each_reference_figure_draws_the_table_and_switches_to_noise_corrected(browser, workflow_run, screenshots):
    results = workflow_run / "results"
    table = pd.read_parquet(results / "tables" / "scores.parquet")
    pages = sorted((results / "figures" / "rsa").glob("*/*um.html"))
    assert len(pages) == 4
    for path in pages:
        stimulus, depth = path.parent.name, int(path.stem.removesuffix("um"))
        page, errors, graph = open_graph(browser, path)
        rows = table[(table["stimulus"] == stimulus) & (table["depth"] == depth) & (table["model"] == "efficientnet_lite0")]
        for area, at_area in rows.groupby("area"):
            at_area = at_area.sort_values("layer_index")
            assert drawn_scores(graph, "raw", "efficientnet_lite0", area) == pytest.approx(at_area["score"].tolist(), abs=1e-12)
        page.screenshot(path=screenshots / f"{stimulus}_{depth}um_raw.png")
        page.get_by_text("noise-corrected", exact=True).click()
        page.wait_for_timeout(300)
        (switched,) = rendered(page)
        check_drawn(switched, path.name + " (noise-corrected)")
        corrected = rows[rows["noise_corrected_flag"] == ""]
        assert not corrected.empty
        for area, at_area in corrected.groupby("area"):
            at_area = at_area.sort_values("layer_index")
            drawn = drawn_scores(switched, "noise-corrected", "efficientnet_lite0", area)
            assert drawn == pytest.approx(at_area["score_noise_corrected"].tolist(), abs=1e-12)
            assert drawn != pytest.approx(at_area["score"].tolist(), abs=1e-6)
        assert all(trace["meta"]["view"] == "noise-corrected" for trace in switched["traces"] if trace["visible"] is True)
        page.screenshot(path=screenshots / f"{stimulus}_{depth}um_noise_corrected.png")
        assert not errors, (path.name, errors)
        page.close()


def test_each_best_layer_summary_draws_the_table_within_the_window(browser, workflow_run, screenshots):
    results = workflow_run / "results"
    best = pd.read_parquet(results / "tables" / "group_best_layers.parquet")
    pages = sorted((results / "figures" / "rsa").glob("*/best_layers.html"))
    assert len(pages) == 2
    for path in pages:
        page, errors, graph = open_graph(browser, path)
        rows = best[best["stimulus"] == path.parent.name]
        for trace in graph["traces"]:
            meta = trace["meta"]
            expected = rows[(rows["group"] == meta["group"]) & (rows["pathway"] == meta["pathway"]) & (rows["depth"] == meta["depth"])]
            column = "best_layer_held_out_score" if meta["value"] == "held-out" else "best_layer_score"
            assert sorted(trace["y"]) == pytest.approx(sorted(expected[column]), abs=1e-12)
        assert set(rows["area"]) == set(small_config()["data"]["areas"])  # all five, inside the window
        page.screenshot(path=screenshots / f"{path.parent.name}_best_layers.png", full_page=True)
        assert not errors, (path.name, errors)
        page.close()


def test_the_report_page_of_interactive_figures_shows_each_one(browser, workflow_run, screenshots):
    figures = workflow_run / "results" / "figures"
    path = figures / "interactive.html"
    page, errors = open_page(browser, path.as_uri())
    titles = page.eval_on_selector_all("#choice option", "options => options.map(option => option.value)")
    # 2 stimuli × 2 depths, and the best-layer summary of each stimulus, each from its JSON file.
    sources = {f"rsa · {s} · {d} µm": figures / "rsa" / s / f"{d}um.plotly.json" for s in STIMULI for d in (175, 275)}
    sources |= {f"rsa · {s} · held-out best layers": figures / "rsa" / s / "best_layers.plotly.json" for s in STIMULI}
    assert sorted(titles) == sorted(sources)
    for title in titles:
        page.select_option("#choice", title)
        page.wait_for_timeout(200)
        (graph,) = rendered(page)
        check_drawn(graph, title)
        shown, stored = page.evaluate("""title => [document.querySelector('.js-plotly-plot').layout.title.text,
            JSON.parse(document.getElementById('figures').textContent)[title].layout.title.text]""", title)
        assert shown == stored and len(graph["traces"]) == len(json.loads(sources[title].read_text())["data"]), title
    page.screenshot(path=screenshots / "interactive_page.png")
    assert not errors, errors
    assert path.stat().st_size < 6_000_000  # plotly.js once

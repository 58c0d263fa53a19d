"""Several data sources in one run (config key ``modalities``): each entry's config, and the tables
of every entry put together.

Each entry is the config with the entry's overlay merged over it, a complete run of its own in
``<results>/<entry>/`` or the folder the overlay names (its populations, figures, groups and
contrasts: group statistics never pool populations of two entries). The run's own tables folder
holds every entry's tables in one, each row under the entry folder it came from (column
``results``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .configs import merged

# Tables of an entry's run put together: name → formats written (the populations table is CSV only).
TABLES = {
    "scores": ("parquet", "csv"),
    "populations": ("csv",),
    "groups": ("parquet", "csv"),
    "group_best_layers": ("parquet", "csv"),
    "contrasts": ("parquet", "csv"),
}


def entry_configs(config: dict) -> dict[str, dict]:
    """Entry name → its complete config: the config without ``modalities`` and the entry's overlay
    merged over it; its results in ``<results>/<entry>`` unless the overlay names a folder (an
    existing run's, whose complete jobs then stay as they are)."""
    base = {key: value for key, value in config.items() if key != "modalities"}
    configs = {}
    for entry, overlay in config["modalities"].items():
        if "modalities" in overlay:
            raise ValueError(f"modalities.{entry} sets modalities: entries do not nest")
        configs[entry] = merged(base, {"results": f"{config['results']}/{entry}", **overlay})
    folders = [entry_config["results"].rstrip("/") for entry_config in configs.values()]
    shared = sorted({folder for folder in folders if folders.count(folder) > 1 or folder == config["results"].rstrip("/")})
    if shared:
        raise ValueError(
            f"modalities: results folder(s) {shared} belong to more than one entry, or to the run itself "
            f"(results: {config['results']}, where every entry's tables are put together); give each entry "
            "a folder of its own"
        )
    return configs


def combined(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every entry's table in one (``tables``: the entry's results folder → its table), each row
    under its folder (first column ``results``). A depth column whose entries hold µm and ``all``
    both becomes text ("175", "all"): a column holds one type."""
    frames = [table.assign(results=folder) for folder, table in tables.items()]
    numeric = {pd.api.types.is_numeric_dtype(frame["depth"]) for frame in frames if "depth" in frame}
    if len(numeric) > 1:
        frames = [frame.astype({"depth": str}) if "depth" in frame else frame for frame in frames]
    table = pd.concat(frames, ignore_index=True)
    return table[["results", *(column for column in table.columns if column != "results")]]


def read_table(path: Path) -> pd.DataFrame:
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)

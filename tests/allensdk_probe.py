"""Run under the AllenSDK environment by test_allen_data.py: read a cache, report what was read.

Every socket connection and DNS lookup is refused and recorded, so the report proves whether
any network access was attempted.
"""

import json
import socket
import sys

attempts = []


def _refuse(kind):
    def refuse(*args, **kwargs):
        attempts.append(f"{kind} {args[1:] if kind == 'connect' else args[:1]}")
        raise OSError(f"network blocked by test: {kind}")

    return refuse


socket.socket.connect = _refuse("connect")
socket.socket.connect_ex = _refuse("connect")
socket.getaddrinfo = _refuse("getaddrinfo")
socket.create_connection = _refuse("create_connection")


def read_everything(manifest, offline):
    from brainlike.allen_data import open_cache

    cache = open_cache(manifest, offline=offline)
    report = {}
    try:
        containers = cache.get_experiment_containers()
        report["containers"] = len(containers)
        scenes = cache.get_ophys_experiments(stimuli=["natural_scenes"])
        movie = cache.get_ophys_experiments(stimuli=["natural_movie_one"])
        report["scene_experiments"] = len(scenes)
        report["movie_experiments"] = len(movie)
        experiment = scenes[0]["id"]
        data = cache.get_ophys_experiment_data(experiment)
        timestamps, dff = data.get_dff_traces()
        report["dff_shape"] = list(dff.shape)
        report["frame_interval"] = float(timestamps[1] - timestamps[0])
        report["metadata"] = {k: str(v) for k, v in data.get_metadata().items()}
        for stimulus in ("natural_scenes", "natural_movie_one"):
            table = data.get_stimulus_table(stimulus)
            report[f"{stimulus}_table"] = {"rows": len(table), "columns": list(table.columns),
                                           "first": table.iloc[0].astype(int).tolist()}  # fmt: skip
            report[f"{stimulus}_template"] = list(data.get_stimulus_template(stimulus).shape)
        report["stimuli"] = data.list_stimuli()
        events = cache.get_ophys_experiment_events(experiment)
        report["events_shape"] = list(events.shape)
        report["events_min"] = float(events.min())
        report["cells"] = len(cache.get_cell_specimens(experiment_container_ids=[scenes[0]["experiment_container_id"]]))
        report["missing"] = None
        try:
            cache.get_ophys_experiment_data(999)
        except Exception as error:  # the offline cache must name what is missing
            report["missing"] = f"{type(error).__name__}: {error}"
    except Exception as error:
        report["error"] = f"{type(error).__name__}: {error}"
    report["network_attempts"] = attempts
    return report


if __name__ == "__main__":
    print(json.dumps(read_everything(sys.argv[1], offline=sys.argv[2] == "offline")))

"""Job logs: long loops report their progress (count, rate, time left) at every tenth."""

import logging

from brainlike.logs import Progress


def test_progress_logs_each_tenth_with_rate_and_time_left(caplog):
    with caplog.at_level(logging.INFO, logger="progress"), Progress(25, "model: extraction", "row") as progress:
        for _ in range(25):
            progress.advance()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 10  # 25 rows cross each tenth once
    assert lines[0].startswith("model: extraction: 3/25 rows (12 %), ")
    assert lines[-1].startswith("model: extraction: 25/25 rows (100 %), ") and lines[-1].endswith("about 00:00 left")
    assert all(" rows/s, about " in line for line in lines)


def test_a_big_step_logs_once(caplog):
    with caplog.at_level(logging.INFO, logger="progress"), Progress(100, "resampling", "resample") as progress:
        progress.advance(55)
        progress.advance(45)
    assert [record.getMessage().split(",")[0] for record in caplog.records] == [
        "resampling: 55/100 resamples (55 %)", "resampling: 100/100 resamples (100 %)"
    ]

"""`vap-ros bench model` reports latency and memory (figures are reported, never asserted)."""

from __future__ import annotations

import argparse

from vap_ros.bench import model as bench_model
from vap_ros.cli.bench import BENCH_MODULES


def test_bench_model_reports(tmp_path):
    assert "model" in BENCH_MODULES
    p = argparse.ArgumentParser()
    bench_model.add_arguments(p)
    report = bench_model.run(p.parse_args(["--preset", "tiny", "--repeats", "1", "--steps", "2",
                                           "--views", "2"]))
    for key in ("step_ms_median", "rollout_s_median", "train_step_ms_median", "rss_peak_MiB",
                "params_total_M", "tokens_per_view"):
        assert report[key] > 0, key
    assert report["clip"].startswith("2 view(s) x 5 frames @ 32x32")

"""The app's settings with one change: the URLconf also serves the benchmark's
baseline view (bench/baseline_urls.py). Used only by bench/intake.py."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"

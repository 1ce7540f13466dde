"""What the in-process benchmarks (`bench.validation`, `bench.micro`) share:
their timing options, and Django set up as the engine's processes set it up."""

import argparse
import json
import os


def start(prog: str, doc: str, argv, *, timed: str) -> argparse.Namespace:
    """Parse --number and --repeat for `prog`, then set Django up."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=3000, help=f"{timed} per timing (default 3000)")
    parser.add_argument("--repeat", type=int, default=5, help="timings; the best is kept (default 5)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    return args


def report(heading: str, figures: dict, labels: dict) -> None:
    """A table of the figures (microseconds) under their labels, then the JSON."""
    width = max(len(label) for label in labels.values())
    print(f"{'':{width}} {heading:>14}")
    for key, label in labels.items():
        print(f"{label:{width}} {figures[key]:14.1f}")
    print(json.dumps(figures))

"""Time of the interactive DEIMOS view (deimos_utils.toy.teaching) at a preset: one table.

Rows: the first training, every cheap control moved to a new value and back (the median of
``--repeats`` moves: the acquisition, the drawing, and the whole ``update`` call as a widget
callback pays it), then the two steps that retrain from scratch (a new dropout p, "label the
batch"). The widget runs without a browser, with the PNG view (the Agg backend); in JupyterLab
the ipympl view draws instead of encoding a PNG, which costs about the same.
Usage: ``python benchmarks/bench_teaching.py [--scale quick|cpu|paper] [--repeats 3]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import torch  # noqa: E402

from deimos_utils.toy import teaching  # noqa: E402

MOVES = [
    ("batch_size", 10, 5),
    ("noise_fraction", 2.0, 0.15),
    ("n_masks", 200, 50),
    ("n_masks", 7, 50),
    ("sample_fraction", 0.3, 1.0),
    ("show_baselines", True, False),
]


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick", choices=list(teaching.PRESETS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    preset = teaching.PRESETS[args.scale]
    print(f"preset {args.scale}: {preset}, torch threads {torch.get_num_threads()}, "
          f"device {teaching.default_device()}")
    rows = []
    seconds, demo = timed(teaching.interactive_demo, seed=args.seed, scale=args.scale,
                          clicks=False, progress=False)
    rows.append(("first training + first view", seconds, float("nan"), float("nan")))
    for name, value, back in MOVES:
        walls, acquire, draw = [], [], []
        for _ in range(args.repeats):
            for v in (value, back):
                wall, state = timed(demo.update, **{name: v})
                walls.append(wall)
                acquire.append(state["seconds"]["acquire"])
                draw.append(state["seconds"]["draw"])
        rows.append((f"move {name} to {value} and back", statistics.median(walls),
                     statistics.median(acquire), statistics.median(draw)))
    seconds, _ = timed(demo.update, dropout=0.3)
    rows.append(("dropout p 0.2 -> 0.3 (retrains)", seconds, float("nan"), float("nan")))
    seconds, _ = timed(demo.label_batch)
    rows.append(("label the batch (retrains)", seconds, float("nan"), float("nan")))
    print(f"\n{'step':<40} {'update s':>9} {'acquire s':>10} {'draw s':>8}")
    for label, total, acq, drw in rows:
        print(f"{label:<40} {total:>9.3f} {acq:>10.3f} {drw:>8.3f}")


if __name__ == "__main__":
    main()

"""Measure the cpu preset's epoch rule (docs/cpu_preset.md) and write results/epoch_rule.csv.

    python benchmarks/epoch_rule.py [family ...]     # default: every family

Prints the objective table and the epoch count the rule gives for each family. One thread.
"""
import sys
from pathlib import Path

import pandas as pd
import torch

from deimos_utils.experiment.epoch_rule import FAMILIES, choose_epochs, measure_family

if __name__ == "__main__":
    torch.set_num_threads(1)
    families = sys.argv[1:] or list(FAMILIES)
    out = Path("results/epoch_rule.csv")
    old = pd.read_csv(out) if out.exists() else pd.DataFrame()
    for family in families:
        table = measure_family(family)
        old = pd.concat([old[old.family != family] if len(old) else old, table], ignore_index=True)
        out.parent.mkdir(exist_ok=True)
        old.to_csv(out, index=False)
        print(table.pivot_table(index="epochs", columns="set", values="objective").to_string(), flush=True)
    print("epochs by the rule:", choose_epochs(old))

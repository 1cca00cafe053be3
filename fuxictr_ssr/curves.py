"""The validation curves of a results folder (``curves.png`` beside its leaderboard): per
experiment, the validation AUC at each epoch, mean over the seeds that reached it and the band
from their lowest to their highest, read from the runs' ``<expid>.curves.jsonl``
(:mod:`fuxictr_ssr.models.training_progress`)."""
import glob
import json
import os

import numpy as np


def read_curves(out_dir, rows):
    """``{expid: {seed: [(epoch, valid AUC), ...]}}`` of the finished runs ``rows`` whose curves
    are in ``<out_dir>/checkpoints/seed_<seed>/<dataset>/``."""
    curves = {}
    for row in rows:
        pattern = os.path.join(out_dir, "checkpoints", f"seed_{row['seed']}", "*", f"{row['expid']}.curves.jsonl")
        for path in glob.glob(pattern)[:1]:
            points = [json.loads(line) for line in open(path) if line.strip()]
            points = [(p["epoch"], p["valid"]["AUC"]) for p in points if "AUC" in p["valid"]]
            if points:
                curves.setdefault(row["expid"], {})[int(row["seed"])] = points
    return curves


def plot_curves(out_dir, title, rows):
    """Write ``curves.png``; return its path, or ``None`` when no run has curves."""
    curves = read_curves(out_dir, rows)
    if not curves:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(7.5, 4.5))
    # tab10 repeats its colours from the 11th line on (a 12-trial search has 12)
    colours = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20").colors
    for number, (expid, by_seed) in enumerate(sorted(curves.items())):
        epochs = sorted({epoch for points in by_seed.values() for epoch, _ in points})
        values = [[auc for points in by_seed.values() for e, auc in points if e == epoch] for epoch in epochs]
        colour = colours[number % len(colours)]
        axis.plot(epochs, [np.mean(v) for v in values], marker=".", color=colour,
                  label=f"{expid} ({len(by_seed)} seeds)")
        axis.fill_between(epochs, [min(v) for v in values], [max(v) for v in values], alpha=0.2, color=colour)
    axis.set(xlabel="epoch", ylabel="validation AUC", title=f"{title}: validation AUC per epoch (mean, seed range)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path = os.path.join(out_dir, "curves.png")
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path

"""``fuxictr-ssr scale``: a model family over a ladder of non-embedding parameter counts.

Each family grows along one width knob, its other settings taken from the family's experiment in
the benchmark folder (``<family>_<dataset id>``: embedding size, regularisation, dropout, depth):

* ``DNN``: the width of every hidden layer (depth as in the base experiment);
* ``DCNv2``: the width of the parallel MLP (cross layers as in the base);
* ``SSR_S``, ``SSR_D``: the view width of every layer (views and depth as in the base).

For every target the smallest width that reaches it is found by doubling then bisection over
the exact parameter count of the built model. The sizes become experiments ``<family>_<target>``
of a generated config folder, run by the benchmark runner (resumable, every seed); then
``scaling.csv`` gives each size's parameters and training FLOPs per sample with its test metrics
(mean ± std over seeds), ``scaling_fit.md`` each family's power-law exponent of test logloss and AUC
against FLOPs (:mod:`fuxictr_ssr.analysis.power_law`), and ``scaling.png`` both views.
"""
import csv
import os
from collections import OrderedDict

import numpy as np
import yaml

from .analysis.power_law import fit_power_law
from .bench import current_fingerprints, run_benchmark
from .experiment import list_expids
from .leaderboard import current_rows, summarise
from .records import read_results
from .config import DATASET_KEYS, DEFAULT_PARAMS, load_dataset_block, load_params
from .data.dataset import feature_map_from_config
from .models.checked_model import count_parameters
from .models.flops import training_flops_per_sample
from .registry import create_model

FAMILIES = ("DNN", "DCNv2", "SSR_S", "SSR_D")


def with_width(family, base, width):
    """The base experiment's params with the family's width knob set to ``width``."""
    params = dict(base)
    if family == "DNN":
        params["hidden_units"] = [width] * len(base["hidden_units"])
    elif family == "DCNv2":
        params["parallel_dnn_hidden_units"] = [width] * len(base["parallel_dnn_hidden_units"])
    else:
        params["view_dims"] = [width] * len(base["view_dims"])
    return params


def non_embedding_params(params, feature_map):
    return count_parameters(create_model(params, feature_map))[1]


def width_for(family, base, target, feature_map):
    """Smallest width whose model has at least ``target`` non-embedding parameters; doubling
    first, so no model far above the target is ever built."""
    def count(width):
        return non_embedding_params(with_width(family, base, width), feature_map)
    high = 1
    while count(high) < target:
        high *= 2
    low = high // 2 + 1 if high > 1 else 1
    while low < high:
        middle = (low + high) // 2
        if count(middle) < target:
            low = middle + 1
        else:
            high = middle
    return low


def size_label(target):
    return f"{target:.0e}".replace("e+0", "e").replace("e+", "e")


def write_sweep_config(config_dir, families, targets, out_dir, max_epochs=None):
    """Write ``<out_dir>/config`` with one experiment per family and target (merged with what a
    previous sweep there wrote); return the config dir and the experiment ids of this sweep.
    ``max_epochs`` caps each experiment's ``epochs`` (early stopping still applies)."""
    dataset_id = None
    sweep_dir = os.path.join(out_dir, "config")
    os.makedirs(sweep_dir, exist_ok=True)
    model_path = os.path.join(sweep_dir, "model_config.yaml")
    blocks = OrderedDict(yaml.safe_load(open(model_path)) if os.path.isfile(model_path) else {})
    expids = []
    for family in families:
        if family not in FAMILIES:
            raise ValueError(f"--family: expected some of {', '.join(FAMILIES)}, got {family!r}")
        base_expid = _base_expid(config_dir, family)
        base = load_params(config_dir, base_expid)
        dataset_id = base["dataset_id"]
        feature_map = feature_map_from_config(base)
        experiment = {k: v for k, v in base.items() if k not in DATASET_KEYS and k != "model_id"}
        if max_epochs is not None:
            experiment["epochs"] = min(max_epochs, experiment.get("epochs", DEFAULT_PARAMS["epochs"]))
        for target in targets:
            expid = f"{family}_{size_label(target)}"
            blocks[expid] = with_width(family, experiment, width_for(family, experiment, target, feature_map))
            expids.append(expid)
    with open(os.path.join(sweep_dir, "dataset_config.yaml"), "w") as handle:
        yaml.safe_dump({dataset_id: _dataset_block(config_dir, dataset_id)}, handle, sort_keys=False)
    with open(model_path, "w") as handle:
        yaml.safe_dump(dict(blocks), handle, sort_keys=False)
    return sweep_dir, expids


def _dataset_block(config_dir, dataset_id):
    block = load_dataset_block(config_dir, dataset_id)
    block.pop("dataset_id")
    return block


def _base_expid(config_dir, family):
    matches = [e for e in list_expids(config_dir) if e.startswith(family + "_") and
               not any(e.startswith(f"{family}_{kind}_") for kind in ("wide", "deep"))]
    if not matches:
        raise ValueError(f"--family: no {family}_<dataset> experiment in {config_dir!r} to take settings from")
    return matches[0]


def write_scaling_outputs(out_dir, rows, sweep_dir):
    """``scaling.csv`` (one row per experiment, with its training FLOPs per sample), ``scaling_fit.md``
    (per family, test logloss and AUC against FLOPs per sample fitted as a power law plus a
    constant) and ``scaling.png`` (test AUC against parameters, test logloss against FLOPs)."""
    summary, _ = summarise(rows)
    flops = {s["expid"]: sweep_flops(sweep_dir, s["expid"]) for s in summary}
    table = [{"family": s["expid"].rsplit("_", 1)[0], "expid": s["expid"], "params_non_embedding": s["params"],
              "train_flops_per_sample": flops[s["expid"]], "seeds": s["seeds"], "test_AUC_mean": s["test_AUC"][0],
              "test_AUC_std": s["test_AUC"][1], "test_logloss_mean": s["test_logloss"][0],
              "test_logloss_std": s["test_logloss"][1], "valid_AUC_mean": s["valid_AUC"][0],
              "train_time_s": s["train_time_s"]} for s in summary]
    table.sort(key=lambda r: (r["family"], r["params_non_embedding"]))
    with open(os.path.join(out_dir, "scaling.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    fits = family_fits(rows, flops)
    with open(os.path.join(out_dir, "scaling_fit.md"), "w") as handle:
        handle.write("\n".join(fit_lines(fits)) + "\n")
    plot_scaling(out_dir, table, fits)
    return table


def sweep_flops(sweep_dir, expid):
    """Training FLOPs per sample of a sweep experiment (:mod:`fuxictr_ssr.models.flops`)."""
    params = load_params(sweep_dir, expid)
    feature_map = feature_map_from_config(params)
    return training_flops_per_sample(create_model(params, feature_map), feature_map)


def family_fits(rows, flops):
    """``{family: {"AUC": fit, "logloss": fit}}``, every run (size and seed) one point."""
    fits = {}
    for family in sorted({r["expid"].rsplit("_", 1)[0] for r in rows}):
        runs = [r for r in rows if r["expid"].rsplit("_", 1)[0] == family]
        x = [flops[r["expid"]] for r in runs]
        fits[family] = {"logloss": fit_power_law(x, [float(r["test_logloss"]) for r in runs], decreasing=True),
                        "AUC": fit_power_law(x, [float(r["test_AUC"]) for r in runs], decreasing=False),
                        "sizes": len(set(x))}
    return fits


def fit_lines(fits):
    def cell(fit):
        if fit["exponent"] is None:
            return f"- ({fit['reason']})"
        interval = (f" [{fit['interval'][0]:.3f}, {fit['interval'][1]:.3f}]" if fit["interval"]
                    else f" (no interval: {fit['reason']})")
        return f"{fit['exponent']:.3f}{interval}"
    lines = ["| family | sizes | runs | test logloss: exponent b [95%] | logloss floor c | test AUC: exponent b [95%] "
             "| AUC ceiling c |", "|---|---|---|---|---|---|---|"]
    for family, fit in fits.items():
        floor = "-" if fit["logloss"]["floor"] is None else f"{fit['logloss']['floor']:.4f}"
        ceiling = "-" if fit["AUC"]["floor"] is None else f"{fit['AUC']['floor']:.4f}"
        lines.append(f"| {family} | {fit['sizes']} | {fit['logloss']['points']} | {cell(fit['logloss'])} | {floor} "
                     f"| {cell(fit['AUC'])} | {ceiling} |")
    lines += ["", "Fit per family over every run (size x seed): test logloss = c + a (F / F_min)^-b, test AUC = "
              "c - a (F / F_min)^-b, F = training FLOPs per sample (forward + backward matrix products, "
              "torch's FlopCounterMode); a larger b is a faster gain per unit of compute. Interval: b +- "
              "t(0.975, runs - 3) x its standard error."]
    return lines


def plot_scaling(out_dir, table, fits):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, (by_params, by_flops) = plt.subplots(1, 2, figsize=(11, 4.2))
    for family in sorted({r["family"] for r in table}):
        points = [r for r in table if r["family"] == family]
        line = by_params.errorbar([p["params_non_embedding"] for p in points], [p["test_AUC_mean"] for p in points],
                                  yerr=[p["test_AUC_std"] for p in points], marker="o", capsize=3, label=family)
        x = [p["train_flops_per_sample"] for p in points]
        by_flops.errorbar(x, [p["test_logloss_mean"] for p in points], yerr=[p["test_logloss_std"] for p in points],
                          marker="o", capsize=3, linestyle="none", color=line[0].get_color(), label=family)
        fit = fits[family]["logloss"]
        if fit["exponent"] is not None:
            grid = np.geomspace(min(x), max(x), 50)
            by_flops.plot(grid, fit["floor"] + fit["scale"] * (grid / min(x)) ** -fit["exponent"],
                          color=line[0].get_color(), alpha=0.6, label=f"{family} fit, b = {fit['exponent']:.2f}")
    seeds = max(r["seeds"] for r in table)
    name = os.path.basename(os.path.normpath(out_dir))
    by_params.set(xscale="log", xlabel="non-embedding parameters", ylabel="test AUC",
                  title=f"{name}: test AUC vs size (up to {seeds} seeds)")
    by_flops.set(xscale="log", xlabel="training FLOPs per sample", ylabel="test logloss",
                 title=f"{name}: test logloss vs compute, power-law fits")
    for axis in (by_params, by_flops):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(os.path.join(out_dir, "scaling.png"), dpi=90)
    plt.close(figure)


def run_scaling(config_dir, families, targets, seeds, out_dir, gpu=-1, data_root=None, command="", log=print,
                max_epochs=None, report_only=False):
    """Size, run and plot; return the scaling table (``report_only``: plot the rows there, run nothing)."""
    sweep_dir, expids = write_sweep_config(config_dir, families, targets, out_dir, max_epochs)
    run_benchmark(sweep_dir, seeds, out_dir, expids=expids, gpu=gpu, data_root=data_root, command=command,
                  log=log, title=f"{os.path.basename(os.path.normpath(out_dir))} scaling sweep",
                  report_only=report_only)
    rows = current_rows(read_results(os.path.join(out_dir, "results.csv")),
                        current_fingerprints(sweep_dir, list_expids(sweep_dir)))
    if not rows:
        raise ValueError(f"{os.path.join(out_dir, 'results.csv')}: no finished run of this sweep yet")
    return write_scaling_outputs(out_dir, rows, sweep_dir)

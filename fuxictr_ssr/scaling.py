"""``fuxictr-ssr scale``: a model family over a ladder of non-embedding parameter counts.

Each family grows along one width knob, its other settings taken from the family's experiment in
the benchmark folder (``<family>_<dataset id>``: embedding size, regularisation, dropout, depth):

* ``DNN``: the width of every hidden layer (depth as in the base experiment);
* ``DCNv2``: the width of the parallel MLP (cross layers as in the base);
* ``SSR_S``, ``SSR_D``: the view width of every layer (views and depth as in the base).

For every target the smallest width that reaches it is found by doubling then bisection over
the exact parameter count of the built model. The sizes become experiments ``<family>_<target>``
of a generated config folder, run by the benchmark runner (resumable, every seed); then
``scaling.csv`` and ``scaling.png`` show test AUC (mean ± std over seeds) against non-embedding
parameters, all families on one plot.
"""
import csv
import os
from collections import OrderedDict

import yaml

from .bench import current_fingerprints, run_benchmark
from .experiment import list_expids
from .leaderboard import current_rows, summarise
from .records import read_results
from .config import DATASET_KEYS, DEFAULT_PARAMS, load_dataset_block, load_params
from .data.dataset import feature_map_from_config
from .models.checked_model import count_parameters
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


def write_scaling_outputs(out_dir, rows):
    """``scaling.csv`` (one row per experiment) and ``scaling.png`` (test AUC vs parameters)."""
    summary, _ = summarise(rows)
    table = [{"family": s["expid"].rsplit("_", 1)[0], "expid": s["expid"], "params_non_embedding": s["params"],
              "seeds": s["seeds"], "test_AUC_mean": s["test_AUC"][0], "test_AUC_std": s["test_AUC"][1],
              "test_logloss_mean": s["test_logloss"][0], "valid_AUC_mean": s["valid_AUC"][0],
              "train_time_s": s["train_time_s"]} for s in summary]
    table.sort(key=lambda r: (r["family"], r["params_non_embedding"]))
    with open(os.path.join(out_dir, "scaling.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for family in sorted({r["family"] for r in table}):
        points = [r for r in table if r["family"] == family]
        axis.errorbar([p["params_non_embedding"] for p in points], [p["test_AUC_mean"] for p in points],
                      yerr=[p["test_AUC_std"] for p in points], marker="o", capsize=3, label=family)
    seeds = max(r["seeds"] for r in table)
    axis.set(xscale="log", xlabel="non-embedding parameters", ylabel="test AUC",
             title=f"{os.path.basename(os.path.normpath(out_dir))}: test AUC vs size (up to {seeds} seeds)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(os.path.join(out_dir, "scaling.png"), dpi=90)
    plt.close(figure)
    return table


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
    return write_scaling_outputs(out_dir, rows)

"""``fuxictr-ssr tune``: a FuxiCTR tuner config searched through the benchmark runner.

The tuner config is FuxiCTR's (what ``run_param_tuner.py`` reads): ``base_config`` (a config
folder; default the tuner file's folder), ``base_expid``, optional ``dataset_id`` and
``tuner_space``, whose list values form the grid (a knob whose value is itself a list is written
as a list of lists, as in FuxiCTR); ``model_config`` / ``dataset_config`` may be given inline
instead of a base folder.

Under ``--out`` (default: the tuner file's path without ``.yaml``, where FuxiCTR writes its
expanded configs):

- ``trials/``: every grid point as experiment ``<base_expid>_<NNN>_<hash>`` of a config folder,
  so each trial reruns alone (``fuxictr-ssr run --config <out>/trials --expid ...``);
- ``search/``: the trials, one seed, run by :func:`fuxictr_ssr.bench.run_benchmark` (one process
  each; finished trials are kept, an interrupted one is redone, nothing runs twice);
- ``tuning.md`` / ``tuning.png``: every trial's validation metric, the chosen point, and the
  validation metric per knob;
- ``chosen/``: the trial with the best validation ``monitor`` (never test) as experiment
  ``<base_expid>_tuned``, labelled ``tuning: "tuned: N trials"``, and ``final/``: that point
  rerun with the final seeds (default BARS's five) and its leaderboard.
"""
import difflib
import hashlib
import itertools
import json
import os
import random

import numpy as np
import yaml

from .bench import run_benchmark
from .experiment import config_fingerprint, resolve
from .leaderboard import current_rows
from .records import append_result, cpu_name, read_results
from .config import (BARS_SEEDS, DATASET_KEYS, DEFAULT_PARAMS, RUN_KEYS, load_dataset_block, load_experiment,
                     read_yaml)
from .registry import constructor_keys, get_model_class
from .safe_files import check_output_path, write_json
from .scheduler import plan_slots

TUNER_KEYS = ("base_config", "base_expid", "dataset_id", "tuner_space", "model_config", "dataset_config")
SAMPLERS = ("grid", "tpe")
# Validation metrics every result row records, so the only ones a search can select on
SELECTABLE_METRICS = ("AUC", "logloss")
NOT_TUNABLE = ("model", "model_id", "dataset_id", "monitor", "monitor_mode")


def load_tuner(path):
    """Read and check a tuner config; return ``(experiment, dataset_block, space)``.

    ``experiment`` is the base experiment's params (Base merged, no dataset keys), ``space`` maps
    each knob to its list of values, in file order. Every problem is a ``ValueError`` naming the key.
    """
    if not os.path.isfile(path):
        raise ValueError(f"--config: tuner config {path!r} does not exist")
    tuner = read_yaml(path)
    unknown = [key for key in tuner if key not in TUNER_KEYS]
    if unknown:
        raise ValueError(f"{path}: {unknown[0]}: unknown key of a tuner config; expected {', '.join(TUNER_KEYS)}")
    base_expid = tuner.get("base_expid")
    if not isinstance(base_expid, str) or not base_expid:
        raise ValueError(f"{path}: base_expid: expected the experiment id to tune, got {base_expid!r}")
    base_dir = _base_folder(path, tuner)
    if "model_config" in tuner:
        blocks = tuner["model_config"] or {}
        if not isinstance(blocks.get(base_expid), dict):
            raise ValueError(f"{path}: model_config: no experiment {base_expid!r} (base_expid) in it")
        experiment = {**(blocks.get("Base") or {}), **blocks[base_expid], "model_id": base_expid}
    else:
        try:
            experiment = load_experiment(base_dir, base_expid)
        except ValueError as error:
            raise ValueError(f"{path}: base_expid: {error}") from None
    dataset_id = tuner.get("dataset_id") or experiment.get("dataset_id")
    if not dataset_id or dataset_id == "TBD":
        raise ValueError(f"{path}: dataset_id: the base experiment names no dataset; give dataset_id")
    experiment["dataset_id"] = dataset_id
    if "dataset_config" in tuner:
        block = (tuner["dataset_config"] or {}).get(dataset_id)
        if not isinstance(block, dict):
            raise ValueError(f"{path}: dataset_config: no dataset {dataset_id!r} in it")
        dataset_block = dict(block)
    else:
        dataset_block = load_dataset_block(base_dir, dataset_id)
        dataset_block.pop("dataset_id")
    for key in dataset_block:
        experiment.pop(key, None)
    space = _check_space(path, tuner.get("tuner_space"), experiment, dataset_block)
    for key in [k for k in space if k in dataset_block]:  # one value each (checked): a dataset override
        dataset_block[key] = space.pop(key)[0]
    if "seed" in space:
        experiment["seed"] = space.pop("seed")[0]
    if not any(len(values) > 1 for values in space.values()):
        raise ValueError(f"{path}: tuner_space: no knob has more than one value; nothing to search")
    return experiment, dataset_block, space


def _base_folder(path, tuner):
    """``base_config`` as FuxiCTR reads it (from the working directory), else beside the tuner file."""
    if "base_config" not in tuner:
        return os.path.dirname(os.path.abspath(path))
    base = str(tuner["base_config"])
    for candidate in (base, os.path.join(os.path.dirname(path), base)):
        if os.path.isdir(candidate):
            return candidate
    if "model_config" in tuner and "dataset_config" in tuner:
        return base
    raise ValueError(f"{path}: base_config: config folder {base!r} not found (from the working directory "
                     f"or from the tuner file's folder)")


def _check_space(path, space, experiment, dataset_block):
    if not isinstance(space, dict) or not space:
        raise ValueError(f"{path}: tuner_space: expected a non-empty mapping of knobs to values, got {space!r}")
    model_class = get_model_class(experiment["model"], search_dir=os.getcwd())
    takes = set(experiment) | set(RUN_KEYS) | set(DEFAULT_PARAMS) | constructor_keys(model_class)
    checked = {}
    for key, values in space.items():
        values = values if isinstance(values, list) else [values]
        where = f"{path}: tuner_space: {key}"
        if key in NOT_TUNABLE:
            raise ValueError(f"{where}: not tunable (a search compares one model on one dataset by one monitor)")
        if not values:
            raise ValueError(f"{where}: empty list of values")
        if key in DATASET_KEYS or key in dataset_block:
            if len(values) > 1:
                raise ValueError(f"{where}: a dataset key takes one value here (a grid over it would preprocess "
                                 "the data once per value); tune it with one dataset block per value")
        elif key == "seed":
            if len(values) > 1:
                raise ValueError(f"{where}: a search runs one seed; give the final seeds with --seeds")
        elif key not in takes:
            close = difflib.get_close_matches(key, sorted(takes), n=1, cutoff=0.75)
            raise ValueError(f"{where}: not a key model {experiment['model']} or the runner reads"
                             + (f" (did you mean {close[0]!r}?)" if close else ""))
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) < len(values):
            raise ValueError(f"{where}: a value is listed twice")
        checked[key] = values
    return checked


def monitor_score(row, monitor):
    """The validation score the search maximises or minimises: FuxiCTR's ``monitor``, a metric
    name or a ``{metric: weight}`` mapping summed, read from a results row's ``valid_*`` columns."""
    weights = monitor if isinstance(monitor, dict) else {monitor: 1}
    return sum(float(weight) * float(row[f"valid_{metric}"]) for metric, weight in weights.items())


def choose(trials, monitor, mode):
    """The trial with the best validation score; on a tie, the first in ``trials``."""
    sign = 1 if mode == "max" else -1
    return max(trials, key=lambda row: sign * monitor_score(row, monitor))


def check_monitor(experiment):
    monitor = experiment.get("monitor", "AUC")
    metrics = list(monitor) if isinstance(monitor, dict) else [monitor]
    for metric in metrics:
        if metric not in SELECTABLE_METRICS:
            raise ValueError(f"monitor: a search selects on the validation {' or '.join(SELECTABLE_METRICS)} "
                             f"every run records; got {monitor!r}")
    if isinstance(monitor, dict) and not all(isinstance(w, (int, float)) for w in monitor.values()):
        raise ValueError(f"monitor: expected numeric weights, got {monitor!r}")
    return monitor, experiment.get("monitor_mode", DEFAULT_PARAMS["monitor_mode"])


def grid_points(space):
    """Every combination of the knobs' values, first knob slowest, as FuxiCTR enumerates them."""
    return [dict(zip(space, values)) for values in itertools.product(*space.values())]


def trial_expid(base_expid, number, point):
    """FuxiCTR's trial naming: ``<base_expid>_<NNN>_<8 hex of the point>`` (NNN: grid position)."""
    digest = hashlib.md5(json.dumps(point, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{base_expid}_{number:03d}_{digest}"


class _PlainDumper(yaml.SafeDumper):
    """YAML without anchors and aliases: a value shared by several trials is written out each time."""

    def ignore_aliases(self, data):
        return True


def write_config_folder(folder, dataset_id, dataset_block, base, experiments, header=""):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "dataset_config.yaml"), "w") as handle:
        yaml.dump({dataset_id: dataset_block}, handle, Dumper=_PlainDumper, sort_keys=False, default_flow_style=None)
    with open(os.path.join(folder, "model_config.yaml"), "w") as handle:
        handle.write(header)
        yaml.dump({"Base": base, **experiments}, handle, Dumper=_PlainDumper, sort_keys=False,
                  default_flow_style=None)
    return folder


def draw_trials(count, max_trials, seed):
    """Grid positions to run: all of them, or a ``random.Random(seed)`` subset of ``max_trials``
    in grid order (the same subset on every resume)."""
    if max_trials is None or max_trials >= count:
        return list(range(count))
    return sorted(random.Random(seed).sample(range(count), max_trials))


def run_tpe(space, expids, run_trials, score_of, max_trials, seed, mode, order_path, log):
    """Optuna's TPE over the grid's values (one categorical index per knob), ``max_trials`` distinct
    trials; ``run_trials(list)`` runs trials (side by side where the runner has slots).

    TPE draws its first ``n_startup_trials`` points at random, whatever the scores told between
    them, so those are asked together and run at once; every later point is asked after the
    previous one is told, so a concurrent search asks what a sequential one asks. The order of
    asked trials is kept in ``order_path``: a resumed search first runs what was asked and never
    finished, replays them all into the study, then goes on."""
    try:
        import optuna
    except ImportError:
        raise ValueError("--sampler tpe: needs optuna (pip install 'fuxictr-ssr[tune]')") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    knobs = list(space)
    distributions = {k: optuna.distributions.CategoricalDistribution(list(range(len(space[k])))) for k in knobs}
    sizes = [len(space[k]) for k in knobs]  # grid position = ravelled value indices (first knob slowest)
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize", sampler=sampler)
    budget = min(max_trials, len(expids))

    def add_finished(expid):
        indices = np.unravel_index(expids.index(expid), sizes)
        study.add_trial(optuna.trial.create_trial(params={k: int(i) for k, i in zip(knobs, indices)},
                                                  distributions=distributions, value=score_of(expid)))

    def ask():
        trial = study.ask(distributions)
        return trial, expids[int(np.ravel_multi_index([trial.params[k] for k in knobs], sizes))]

    done = [e for e in (json.load(open(order_path)) if os.path.isfile(order_path) else []) if e in expids]
    run_trials([e for e in done if score_of(e) is None])  # asked, never finished: run them now
    for expid in done:
        add_finished(expid)
    batch = []  # the random startup points, asked before any of them is told
    while len(study.trials) < sampler._n_startup_trials and len(done) < budget:
        trial, expid = ask()
        batch.append((trial, expid))
        if expid not in done:
            done.append(expid)
    write_json(order_path, done)
    run_trials([expid for _, expid in batch if score_of(expid) is None])
    for trial, expid in batch:
        study.tell(trial, score_of(expid))
    repeats = 0
    while len(done) < budget:
        trial, expid = ask()
        if expid in done:  # TPE proposed a finished point again: tell it, draw again
            study.tell(trial, score_of(expid))
            repeats += 1
            if repeats <= 50 * max_trials:
                continue
            trial, expid = None, next(e for e in expids if e not in done)
            log(f"TPE keeps proposing finished points; taking the next unvisited one, {expid}")
        done.append(expid)
        write_json(order_path, done)
        run_trials([expid])
        if trial is None:
            add_finished(expid)
        else:
            study.tell(trial, score_of(expid))
    return done


def run_tune(tuner_path, out_dir=None, gpu=-1, max_trials=None, sampler="grid", seeds=BARS_SEEDS, search_seed=None,
             search_only=False, final_out=None, data_root=None, max_epochs=None, command="", log=print, gpus=None,
             jobs=None, ray=None):
    """Search the tuner config's space, choose on validation, rerun the chosen point; return
    ``(trials, chosen)``: the search's rows (one per trial) and the chosen trial's row. With
    ``gpus``, ``jobs`` or ``ray`` trials run side by side (:mod:`fuxictr_ssr.scheduler`,
    :mod:`fuxictr_ssr.ray_cluster`); the sampler stays here, so the trials and the choice are a
    sequential search's."""
    if sampler not in SAMPLERS:
        raise ValueError(f"--sampler: expected one of {', '.join(SAMPLERS)}, got {sampler!r}")
    if max_trials is not None and (not isinstance(max_trials, int) or max_trials < 1):
        raise ValueError(f"--max-trials: expected a positive integer, got {max_trials!r}")
    if sampler == "tpe" and max_trials is None:
        raise ValueError("--sampler tpe: give the budget with --max-trials")
    experiment, dataset_block, space = load_tuner(tuner_path)
    monitor, mode = check_monitor(experiment)
    seed = experiment.get("seed", DEFAULT_PARAMS["seed"]) if search_seed is None else search_seed
    base_expid, dataset_id = experiment.pop("model_id"), experiment["dataset_id"]
    out_dir = (out_dir or os.path.splitext(tuner_path)[0]).rstrip("/")
    check_output_path(out_dir, "--out", is_folder=True)
    points = grid_points(space)
    expids = [trial_expid(base_expid, number, point) for number, point in enumerate(points, start=1)]
    trials_dir = write_config_folder(
        os.path.join(out_dir, "trials"), dataset_id, dataset_block,
        {**experiment, "tuning": f"trial of {os.path.basename(tuner_path)}"}, dict(zip(expids, points)),
        header=f"# Every grid point of {tuner_path}, written by fuxictr-ssr tune; each reruns alone with\n"
               f"# fuxictr-ssr run --config {os.path.join(out_dir, 'trials')} --expid <trial>\n")
    search_dir = os.path.join(out_dir, "search")
    os.makedirs(search_dir, exist_ok=True)
    grid_size = len(points)
    log(f"{tuner_path}: {len(space)} knobs, {grid_size} grid points; sampler {sampler}, "
        f"{min(max_trials or grid_size, grid_size)} trials, seed {seed}")

    concurrency = dict(gpu=gpu, gpus=gpus, jobs=jobs, ray=ray)
    plan_slots(gpus, jobs, gpu=-1 if ray else gpu)  # a bad --gpus / --jobs before any trial

    def run_trials(selected):
        if not selected:
            return
        run_benchmark(trials_dir, [seed], search_dir, expids=selected, data_root=data_root,
                      command=command, log=log, title=f"{base_expid} search", max_epochs=max_epochs, **concurrency)

    fingerprints = {e: config_fingerprint(resolve(trials_dir, e, max_epochs=max_epochs)) for e in expids}

    def finished():
        return {r["expid"]: r for r in current_rows(read_results(os.path.join(search_dir, "results.csv")),
                                                    fingerprints) if int(r["seed"]) == seed}

    if sampler == "grid":
        selected = [expids[i] for i in draw_trials(grid_size, max_trials, seed)]
        run_trials(selected)
    else:
        def score_of(expid):
            row = finished().get(expid)
            return None if row is None else monitor_score(row, monitor)
        selected = run_tpe(space, expids, run_trials, score_of, max_trials, seed, mode,
                           os.path.join(search_dir, "tpe_order.json"), log)
    rows = finished()
    trials = [rows[e] for e in selected]
    chosen = choose(trials, monitor, mode)
    label = f"tuned: {len(trials)} trials"
    tuned_expid = f"{base_expid}_tuned"
    chosen_dir = write_config_folder(
        os.path.join(out_dir, "chosen"), dataset_id, dataset_block, {},
        {tuned_expid: {**experiment, **points[expids.index(chosen["expid"])], "tuning": label}},
        header=f"# Chosen by fuxictr-ssr tune from {tuner_path}: trial {chosen['expid']}, best validation "
               f"{_monitor_text(monitor)} ({mode}) of {len(trials)} trials, seed {seed}\n")
    write_report(out_dir, tuner_path, base_expid, space, expids, points, trials, chosen, monitor, mode, sampler,
                 seed, grid_size, command, max_epochs, None if search_only else (final_out or
                                                                                 os.path.join(out_dir, "final")))
    log(f"chosen: {chosen['expid']} (validation {_monitor_text(monitor)} {monitor_score(chosen, monitor):.6f}); "
        f"{os.path.join(out_dir, 'tuning.md')}")
    if not search_only:
        final_dir = final_out or os.path.join(out_dir, "final")
        if seed in seeds:
            reuse_chosen_run(chosen, chosen_dir, tuned_expid, final_dir, max_epochs, log)
        run_benchmark(chosen_dir, list(seeds), final_dir, data_root=data_root, command=command, log=log,
                      max_epochs=max_epochs, **concurrency)
    return trials, chosen


def reuse_chosen_run(chosen, chosen_dir, tuned_expid, final_dir, max_epochs, log):
    """The chosen trial already ran the search seed with the chosen settings (the same config
    fingerprint under the trial's name): its row joins the final runs under the tuned name, with the
    tuned experiment's fingerprint, instead of a second run."""
    params = resolve(chosen_dir, tuned_expid, max_epochs=max_epochs)
    fingerprint = config_fingerprint(params)
    results_csv = os.path.join(final_dir, "results.csv")
    done = {(r["expid"], r["seed"]) for r in current_rows(read_results(results_csv), {tuned_expid: fingerprint})}
    same_run = config_fingerprint({**params, "model_id": chosen["expid"]}) == chosen["config_hash"]
    if not same_run or (tuned_expid, chosen["seed"]) in done:
        return
    append_result(results_csv, {**chosen, "expid": tuned_expid, "config_hash": fingerprint})
    log(f"{tuned_expid} seed {chosen['seed']}: the chosen trial {chosen['expid']} is this run; its row is reused")


def _monitor_text(monitor):
    if isinstance(monitor, dict):
        return " + ".join(f"{weight:g} x {metric}" for metric, weight in monitor.items())
    return monitor


def _value_text(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def write_report(out_dir, tuner_path, base_expid, space, expids, points, trials, chosen, monitor, mode, sampler,
                 seed, grid_size, command, max_epochs, final_dir):
    """``tuning.md`` (the grid, every trial, the chosen point) and ``tuning.png`` (validation
    metric per knob)."""
    knobs = [k for k in space if len(space[k]) > 1]
    fixed = {k: v[0] for k, v in space.items() if len(v) == 1}
    lines = [f"# Tuning {base_expid}", "",
             f"Tuner config: `{tuner_path}`.  ",
             f"Command: `{command}`.  ",
             f"Machine: {cpu_name()}, {os.cpu_count()} CPU cores.  ",
             f"Search: {sampler}, {len(trials)} of {grid_size} grid points, seed {seed}"
             + (f", epochs capped at {max_epochs}" if max_epochs else "") + ".  ",
             f"Selection: best validation {_monitor_text(monitor)} ({mode}); test metrics play no part.", "",
             "| knob | values |", "|---|---|"]
    lines += [f"| {k} | {', '.join(_value_text(v) for v in space[k])} |" for k in knobs]
    lines += [f"| {k} (fixed) | {_value_text(v)} |" for k, v in fixed.items()]
    lines += ["", "| trial | " + " | ".join(knobs) + " | valid AUC | valid logloss | best epoch | train s | |",
              "|---|" + "---|" * len(knobs) + "---|---|---|---|---|"]
    for row in sorted(trials, key=lambda r: expids.index(r["expid"])):
        point = points[expids.index(row["expid"])]
        mark = "chosen" if row is chosen else ""
        lines.append(f"| {row['expid']} | " + " | ".join(_value_text(point[k]) for k in knobs)
                     + f" | {float(row['valid_AUC']):.6f} | {float(row['valid_logloss']):.6f} | {row['best_epoch']} "
                       f"| {float(row['train_time_s']):.0f} | {mark} |")
    lines += ["", f"Chosen: `{chosen['expid']}`, written as `{base_expid}_tuned` to `chosen/` "
              f"({_monitor_text(monitor)} {monitor_score(chosen, monitor):.6f})."]
    if final_dir:
        lines.append(f"Its runs with the final seeds: `{os.path.join(final_dir, 'leaderboard.md')}`.")
    if knobs:
        plot_knobs(os.path.join(out_dir, "tuning.png"), knobs, space, expids, points, trials, chosen, monitor)
        lines += ["", f"![validation {_monitor_text(monitor)} per knob](tuning.png)"]
    with open(os.path.join(out_dir, "tuning.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def plot_knobs(path, knobs, space, expids, points, trials, chosen, monitor):
    """One panel per knob: every trial's validation score at that knob's value."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(1, len(knobs), figsize=(3.2 * len(knobs), 3), squeeze=False)
    for axis, knob in zip(axes[0], knobs):
        values = [_value_text(v) for v in space[knob]]
        for row in trials:
            x = values.index(_value_text(points[expids.index(row["expid"])][knob]))
            axis.scatter(x, monitor_score(row, monitor), color="tab:red" if row is chosen else "tab:blue",
                         s=28 if row is chosen else 14, zorder=3 if row is chosen else 2)
        axis.set_xticks(range(len(values)), values, rotation=30, fontsize=7)
        axis.set_xlabel(knob)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"validation {_monitor_text(monitor)}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)

"""``fuxictr-ssr bench``: every experiment x seed of a benchmark folder, one process each.

Each finished run is appended at once to ``<out>/results.csv`` (its FuxiCTR result line to
``<out>/<folder name>.csv``), so an interrupted benchmark loses nothing it finished; runs already
there are skipped, so re-running resumes; and
``<out>/leaderboard.md`` is rewritten after every run: mean ± std over seeds per experiment,
sorted by test AUC, each experiment's gap to the best other one with a Welch t-test over seeds,
and the published reference numbers of the dataset (BARS, the leaders) beside ours.
"""
import csv
import hashlib
import io
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

import numpy as np
import torch
from scipy import stats

from .config import DATA_LOCATION_KEYS, DEFAULT_PARAMS, cap_epochs, config_files, load_params, read_yaml
from .runner import resolve_params
from .safe_files import append_line, check_output_path

RESULT_COLUMNS = ["expid", "model", "seed", "config_hash", "valid_AUC", "valid_logloss", "test_AUC", "test_logloss",
                  "best_epoch", "epochs_run", "params_non_embedding", "params_total", "train_time_s",
                  "samples_per_s", "fuxictr_version", "torch_version", "device", "threads", "execution", "ics_zeros",
                  "code_version",
                  "command", "finished_at"]

# Published BARS numbers (test AUC / logloss of the seed-2021 leaderboard run; 5-seed mean ± std of
# test AUC where BARS gives it), by benchmark folder name.
BARS_REFERENCE = {
    "Criteo_x1": {"DNN": (0.8137, 0.4382, "0.813678 ± 0.000066"), "DeepFM": (0.8137, 0.4381, "0.813812 ± 0.000080"),
                  "DCNv2": (0.8142, 0.4378, "0.813939 ± 0.000200")},
    "Avazu_x1": {"DNN": (0.7638, 0.3674, None), "DeepFM": (0.7648, 0.3667, None), "DCNv2": (0.7656, 0.3664, None)},
    "Frappe_x1": {"DNN": (0.9833, 0.1622, "0.984045 ± 0.000510"), "DeepFM": (0.9842, 0.1482, "0.983947 ± 0.000161"),
                  "DCNv2": (0.9845, 0.1491, "0.983824 ± 0.000435")},
    "MovielensLatest_x1": {"DNN": (0.9678, 0.2388, "0.967683 ± 0.000342"),
                           "DeepFM": (0.9685, 0.2130, "0.968223 ± 0.000163"),
                           "DCNv2": (0.9691, 0.2147, "0.968657 ± 0.000355")},
    "KKBox_x1": {"DNN": (0.8501, 0.4811, None), "DeepFM": (0.8531, 0.4785, None)},
}
# The best published models of each dataset (test AUC / logloss, one run): BARS x1 leaderboards,
# and FuxiCTR's for Criteo_x4_001 (BARS's x4 split; ours is not that split, see README)
PUBLISHED_LEADERS = {
    "Criteo_x1": [("FinalNet", 0.8154, 0.4365)], "Avazu_x1": [("FinalNet", 0.7672, 0.3653)],
    "Frappe_x1": [("FinalMLP", 0.9861, 0.1484)], "MovielensLatest_x1": [("FinalNet", 0.9725, 0.1941)],
    "KKBox_x1": [("xDeepFM", 0.8535, 0.4772)],
    "Criteo_x4_001": [("QNN-alpha", 0.8163, None), ("DCNv3", 0.8162, None)],
}
# The SSR paper's Table 3 (its protocol: random 8:1:1, log-discretised numerics, min count 6,
# embedding 16, batch 1024): test AUC / logloss / backbone parameters, one run each
PAPER_TABLE3 = {
    "Criteo_paper": [("DeepFM", 0.7986, 0.4539, "0.29M"), ("DCNv2", 0.8064, 0.4537, "0.69M"),
                     ("AutoInt", 0.8053, 0.4462, "0.01M"), ("Wukong", 0.8073, 0.4445, "0.18M"),
                     ("RankMixer", 0.8092, 0.4427, "1.15M"), ("SSR-S", 0.8098, 0.4417, "0.48M"),
                     ("SSR-D", 0.8096, 0.4425, "1.23M")],
    "Avazu_paper": [("DeepFM", 0.7752, 0.3801, "0.23M"), ("DCNv2", 0.7729, 0.3915, "0.36M"),
                    ("AutoInt", 0.7722, 0.3859, "0.07M"), ("Wukong", 0.7756, 0.3826, "0.17M"),
                    ("RankMixer", 0.7772, 0.3818, "0.64M"), ("SSR-S", 0.7827, 0.3781, "0.33M"),
                    ("SSR-D", 0.7835, 0.3781, "0.97M")],
}
# A model beats another only by more than this mean test AUC, at p < SIGNIFICANCE over seeds
MIN_AUC_GAP, SIGNIFICANCE, MIN_SEEDS_FOR_TEST = 1e-3, 0.05, 3


# Keys that say where things are, how much is printed or how a setting was chosen, not what is
# trained. data_format only
# picks the store of the encoded splits: csv -> parquet (fuxictr) and csv -> h5 (ours) hold the
# same encoding, read back in the same row order (tests/test_h5_store.py).
NOT_FINGERPRINTED = {"seed", "gpu", "model_root", "verbose", "log_to_console", "num_workers", "tuning",
                     *DATA_LOCATION_KEYS}


def config_fingerprint(params):
    """Short hash of everything in ``params`` that can change a run's result except the seed.

    A results row counts as done only while its experiment's config still has this hash, so an
    edited config is re-run rather than answered from stale rows.
    """
    relevant = {k: v for k, v in params.items() if k not in NOT_FINGERPRINTED}
    return hashlib.sha1(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:12]


def current_fingerprints(config_dir, expids, max_epochs=None):
    """Each experiment's fingerprint, with ``epochs`` capped at ``max_epochs`` as the runs see it."""
    return {expid: config_fingerprint(experiment_params(config_dir, expid, max_epochs)) for expid in expids}


def experiment_params(config_dir, expid, max_epochs=None):
    params = {**DEFAULT_PARAMS, **load_params(config_dir, expid)}
    if max_epochs is not None:
        params["epochs"] = cap_epochs(params["epochs"], max_epochs)
    return params


def folder_name(config_dir):
    """What a config folder is called in result paths and titles: its own name, or for a
    FuxiCTR-style ``<model>/config/`` its parent's (``model_zoo/SSR/config`` -> ``SSR``)."""
    path = os.path.abspath(config_dir)
    return os.path.basename(os.path.dirname(path)) if os.path.basename(path) == "config" else os.path.basename(path)


def list_expids(config_dir):
    """Experiment ids of a config folder, in file order (``Base`` excluded)."""
    expids = []
    for path in config_files(config_dir, "model_config"):
        expids += [key for key in read_yaml(path) if key != "Base"]
    return expids


def folders_of(config_dirs):
    """``{expid: config folder}`` over several folders; an experiment id defined in two is an error
    (its rows could not be told apart)."""
    folders = {}
    for config_dir in config_dirs:
        if not os.path.isdir(config_dir):
            raise ValueError(f"--config: config folder {config_dir!r} does not exist")
        for expid in list_expids(config_dir):
            if expid in folders:
                raise ValueError(f"--config: experiment {expid!r} is defined in both {folders[expid]} and {config_dir}")
            folders[expid] = config_dir
    return folders


def read_results(path, warn=None):
    """The complete rows of a results CSV; a row torn by a crash (too few fields) is skipped and
    named through ``warn`` (default: stderr), so the benchmark resumes and redoes that run."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows, torn = [], []
        for row in reader:
            if None in row.values() or None in row:
                torn.append(reader.line_num)
            else:
                rows.append(row)
    for line in torn:
        (warn or _warn)(f"{path}: line {line} is incomplete (a run interrupted while writing it); skipped")
    return rows


def _warn(message):
    print(f"warning: {message}", file=sys.stderr)


def append_result(path, row):
    """Append ``row`` (and the header, for a new file) as one atomic line write. A file written
    with older columns is first rewritten with today's (its rows keep their values; a column they
    lack stays empty), through a temporary file and a rename."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=RESULT_COLUMNS)
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        writer.writeheader()
    else:
        with open(path, newline="") as handle:
            header = next(csv.reader(handle), [])
        if header != RESULT_COLUMNS:
            rows = read_results(path)
            with open(path + ".tmp", "w", newline="") as handle:
                upgraded = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS, restval="", extrasaction="ignore")
                upgraded.writeheader()
                upgraded.writerows(rows)
            os.replace(path + ".tmp", path)
    writer.writerow(row)
    append_line(path, text.getvalue())


def code_version():
    """The code a row comes from: ``<package version>+g<commit>`` (``.dirty`` with uncommitted
    changes) in a git checkout, the package version otherwise."""
    from . import __version__
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        described = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty=.dirty", "--abbrev=10"],
                                   capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return __version__
    if described.returncode != 0 or not described.stdout.strip():
        return __version__
    return f"{__version__}+g{described.stdout.strip()}"


def result_row(result, fingerprint, version="", command=""):
    """One results row; ``version`` (:func:`code_version`) and ``command`` (the user's command that
    made it) are its provenance."""
    return {
        "expid": result["expid"], "model": result["model"], "seed": result["seed"], "config_hash": fingerprint,
        "valid_AUC": result["valid"]["AUC"], "valid_logloss": result["valid"]["logloss"],
        "test_AUC": result["test"]["AUC"], "test_logloss": result["test"]["logloss"],
        "best_epoch": result["best_epoch"], "epochs_run": result["epochs_run"],
        "params_non_embedding": result["params_non_embedding"], "params_total": result["params_total"],
        "train_time_s": round(result["train_time_s"], 2), "samples_per_s": round(result["samples_per_s"], 1),
        "fuxictr_version": result["fuxictr_version"], "torch_version": result["torch_version"],
        "device": result["device"], "threads": result["threads"], "execution": result.get("execution", ""),
        "ics_zeros": "/".join(f"{share:.4f}" for share in result.get("ics_zeros", [])), "code_version": version, "command": command,
        "finished_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def run_one(config_dir, expid, seed, gpu, out_dir, data_root, log, nproc=1, max_epochs=None, threads=1):
    """Run one experiment in its own process (``nproc`` data-parallel processes through torchrun)
    with ``threads`` intra-op threads; return its result dict (raises on failure)."""
    launcher = [sys.executable] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    with tempfile.TemporaryDirectory() as scratch:
        result_json = os.path.join(scratch, "result.json")
        command = launcher + ["-m", "fuxictr_ssr", "run", "--config", config_dir, "--expid", expid,
                   "--gpu", str(gpu), "--seed", str(seed), "--threads", str(threads), "--result-json", result_json,
                   "--model-root", os.path.join(out_dir, "checkpoints", f"seed_{seed}"),
                   "--result-csv", os.path.join(out_dir, os.path.basename(config_dir) + ".csv")]
        if data_root:
            command += ["--data-root", data_root]
        if max_epochs is not None:
            command += ["--max-epochs", str(max_epochs)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=_die_with_parent)
        tail = []
        try:
            for line in process.stdout:
                tail = (tail + [line])[-40:]
                message = line.split(" INFO ")[-1].strip(" *\n")
                if "[Metrics] AUC:" in line or "early stop" in line or " end" in message:
                    log(f"    {message}")
        finally:
            if process.poll() is None and sys.exc_info()[0] is not None:
                process.terminate()  # the benchmark is stopping (Ctrl-C, an error): so does its run
        if process.wait() != 0 or not os.path.isfile(result_json):
            raise ValueError(f"{expid} seed {seed} failed (exit {process.returncode}); the finished runs are kept in "
                             f"{out_dir}/results.csv. The run's last lines:\n{''.join(tail)}")
        with open(result_json) as handle:
            return json.load(handle)


def _die_with_parent():
    """In the child, before exec: ask Linux to send SIGTERM when the benchmark process dies (also by
    ``kill -9``), so no orphaned run finishes later and appends a duplicate result line."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the finally clause of run_one still stops the child on errors


def summarise(rows):
    """Per-expid aggregates over seeds, sorted by mean test AUC (best first)."""
    by_expid = {}
    for row in rows:
        by_expid.setdefault(row["expid"], []).append(row)
    summary = []
    for expid, runs in by_expid.items():
        def stat(column):
            values = np.array([float(r[column]) for r in runs])
            return values.mean(), (values.std(ddof=1) if len(values) > 1 else 0.0)
        summary.append({"expid": expid, "model": runs[0]["model"], "seeds": len(runs),
                        "test_AUC_values": [float(r["test_AUC"]) for r in runs],
                        "test_AUC": stat("test_AUC"), "test_logloss": stat("test_logloss"),
                        "valid_AUC": stat("valid_AUC"), "params": int(runs[0]["params_non_embedding"]),
                        "train_time_s": stat("train_time_s")[0], "best_epoch": stat("best_epoch")[0]})
    summary.sort(key=lambda s: -s["test_AUC"][0])
    for entry in summary:
        entry.update(compare_with_best_other(entry, summary))
    return summary


def compare_with_best_other(entry, summary):
    """Mean test AUC gap of ``entry`` to the best other experiment, the two-sided Welch t-test
    p-value over their seeds (``None`` with fewer than 3 seeds on either side) and the verdict."""
    others = [s for s in summary if s["expid"] != entry["expid"]]
    if not others:
        return {"best_other": None, "gap": None, "p_value": None, "verdict": "-"}
    best = max(others, key=lambda s: s["test_AUC"][0])
    gap = entry["test_AUC"][0] - best["test_AUC"][0]
    p_value = None
    if min(len(entry["test_AUC_values"]), len(best["test_AUC_values"])) >= MIN_SEEDS_FOR_TEST:
        p_value = float(stats.ttest_ind(entry["test_AUC_values"], best["test_AUC_values"], equal_var=False).pvalue)
    if p_value is None:
        verdict = "-"
    elif abs(gap) > MIN_AUC_GAP and p_value < SIGNIFICANCE:
        verdict = "better" if gap > 0 else "worse"
    else:
        verdict = "tie"
    return {"best_other": best["expid"], "gap": gap, "p_value": p_value, "verdict": verdict}


def cpu_name():
    """The CPU model (from /proc/cpuinfo where there is one), for benchmark reports."""
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def publish_report(text, out=None):
    """Print a benchmark script's markdown section and append it to ``out`` (a results file that
    collects one section per dataset or run)."""
    print(text)
    if out:
        with open(out, "a") as handle:
            handle.write("\n" + text)


def machine_description(rows):
    devices = sorted({r["device"] for r in rows})
    versions = sorted({f"fuxictr {r['fuxictr_version']}, torch {r['torch_version']}" for r in rows})
    threads = sorted({r.get("threads") or "unrecorded" for r in rows})
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
            f"device {', '.join(devices)}, threads per run {', '.join(threads)}; {'; '.join(versions)}; "
            f"Python {platform.python_version()}")


def current_rows(rows, fingerprints):
    """The rows produced by the experiments' present configs."""
    return [r for r in rows if fingerprints.get(r["expid"]) == r.get("config_hash")]


def _command_lines(rows, command):
    """The commands that made the rows (each row records its own), or ``command`` for rows from
    before that column."""
    made_by = sorted({r.get("command") or command for r in rows} - {""}) or [command]
    if len(made_by) == 1:
        return [f"Command: `{made_by[0]}`"]
    return ["Commands (the rows come from these runs):", ""] + [f"- `{c}`" for c in made_by]


def write_leaderboard(path, dataset, rows, command, stale=0, tuning=None):
    """``tuning``: each experiment's ``tuning`` label (how its setting was chosen; "untuned" where
    the config gives none)."""
    summary = summarise(rows)
    tuning = tuning or {}
    seeds = sorted({int(r["seed"]) for r in rows})
    lines = [f"# {dataset} leaderboard", "",
             f"Machine: {machine_description(rows)}.  ",
             f"Seeds: {', '.join(map(str, seeds))}.  ",
             *_command_lines(rows, command), "",
             "Mean ± sample std over seeds (the value itself for one seed); sorted by mean test AUC. "
             "Params = non-embedding parameters. Tuning: how the experiment's setting was chosen (its config's "
             "`tuning` key; `fuxictr-ssr tune` writes \"tuned: N trials\")."
             + (f" ({stale} rows of earlier configs in results.csv are left out.)" if stale else ""), "",
             "| rank | expid | model | tuning | seeds | test AUC | test logloss | valid AUC | params | best epoch | train s "
             "| vs best other | p (Welch) | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    def mean_std(stat, runs):
        return f"{stat[0]:.6f} ± {stat[1]:.6f}" if runs > 1 else f"{stat[0]:.6f}"

    for rank, s in enumerate(summary, start=1):
        gap = "-" if s["gap"] is None else f"{s['gap']:+.6f} ({s['best_other']})"
        p_value = "-" if s["p_value"] is None else f"{s['p_value']:.3g}"
        lines.append(f"| {rank} | {s['expid']} | {s['model']} | {tuning.get(s['expid'], 'untuned')} | {s['seeds']} "
                     f"| {mean_std(s['test_AUC'], s['seeds'])} "
                     f"| {mean_std(s['test_logloss'], s['seeds'])} | {s['valid_AUC'][0]:.6f} "
                     f"| {s['params']:,} | {s['best_epoch']:.1f} | {s['train_time_s']:.0f} "
                     f"| {gap} | {p_value} | {s['verdict']} |")
    lines += ["", f"vs best other: mean test AUC minus that of the best other experiment; p: two-sided Welch t-test "
              f"of the two experiments' per-seed test AUCs (with >= {MIN_SEEDS_FOR_TEST} seeds each, else -). "
              f"Verdict: better (worse) only if the mean gap is above (below) {MIN_AUC_GAP:g} in size and "
              f"p < {SIGNIFICANCE:g}; tie otherwise."]
    reference = BARS_REFERENCE.get(dataset)
    if reference:
        lines += ["", "BARS reference (published; seed-2021 leaderboard run, and the 5-seed mean where given):", "",
                  "| model | BARS test AUC | BARS test logloss | BARS 5-seed test AUC |", "|---|---|---|---|"]
        for model, (auc, logloss, five_seed) in reference.items():
            lines.append(f"| {model} | {auc:.4f} | {logloss:.4f} | {five_seed or '-'} |")
    leaders = PUBLISHED_LEADERS.get(dataset)
    if leaders:
        lines += ["", "Best published models of this dataset (published, not rerun here; one run each):", "",
                  "| model | test AUC | test logloss |", "|---|---|---|"]
        for model, auc, logloss in leaders:
            lines.append(f"| {model} (published) | {auc:.4f} | {'-' if logloss is None else f'{logloss:.4f}'} |")
        if dataset == "Criteo_x4_001":
            lines.append("")
            lines.append("Our Criteo_x4_001 files follow BARS's x4 rule (stratified 10-fold, seed 2018), but the folds "
                         "match reczoo's files only where `data prepare` reported their md5 (reczoo drew them with "
                         "scikit-learn 0.19.1); otherwise these rows are context, not a like-for-like comparison.")
    paper = PAPER_TABLE3.get(dataset)
    if paper:
        lines += ["", "The SSR paper's Table 3 (published, not rerun here; its protocol, which this folder follows; "
                  "its split seed is not published, so the test rows differ; one run each):", "",
                  "| model | test AUC | test logloss | backbone params |", "|---|---|---|---|"]
        lines += [f"| {model} (paper) | {auc:.4f} | {logloss:.4f} | {params} |" for model, auc, logloss, params in paper]
    else:
        lines += ["", "The SSR paper's Table 3 (RankMixer, Wukong, SSR) uses its own split and preprocessing (random "
                  "8:1:1; benchmark_configs/Criteo_paper and Avazu_paper follow it), so its numbers are not printed "
                  "beside these."]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def run_benchmark(config_dir, seeds, out_dir, expids=None, gpu=-1, data_root=None, command="", log=print,
                  title=None, report_only=False, nproc=1, max_epochs=None, threads=None):
    """Run every (expid, seed) not yet in ``<out_dir>/results.csv``; return the current rows.

    ``config_dir`` is one config folder or a list of them (e.g. a benchmark folder and the chosen
    points of ``fuxictr-ssr tune``), every experiment id defined once among them; ``title`` names
    the leaderboard (default: the first folder's name, e.g. ``Frappe_x1``); ``report_only``
    rewrites the leaderboard from the rows there and runs nothing; ``nproc`` trains each run
    data-parallel in that many processes (one GPU each from ``gpu`` on, or CPU); ``max_epochs``
    caps every experiment's ``epochs`` (part of each row's fingerprint); ``threads`` pins every
    run's torch thread count (default: this process's), recorded in each row, since the float sums of
    a run, and so its metrics, depend on it."""
    config_dirs = [d.rstrip("/") for d in ([config_dir] if isinstance(config_dir, str) else config_dir)]
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"--nproc: expected a positive integer, got {nproc!r}")
    threads = torch.get_num_threads() if threads is None else threads
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"--threads: expected a positive integer, got {threads!r}")
    folders = folders_of(config_dirs)
    expids, seeds = _unique(expids or list(folders), "--expids", log), _unique(seeds, "--seeds", log)
    missing = [expid for expid in expids if expid not in folders]
    if missing:
        raise ValueError(f"--expids: {', '.join(missing)} not found in {', '.join(config_dirs)}; "
                         f"available: {', '.join(folders) or '(none)'}")
    check_output_path(out_dir, "--out", is_folder=True)
    for expid in expids:  # every config and data error before the first run starts
        resolved, _ = resolve_params(folders[expid], expid, gpu=gpu, data_root=data_root,
                                     overrides={"seed": seeds[0]}, max_epochs=max_epochs)
        if not resolved.get("test_data"):
            raise ValueError(f"test_data: experiment {expid!r} of {folders[expid]} has no test split; a leaderboard "
                             "reports test metrics (selection uses validation), so its dataset needs one")
    params = {expid: experiment_params(folder, expid, max_epochs) for expid, folder in folders.items()}
    fingerprints = {expid: config_fingerprint(p) for expid, p in params.items()}
    tuning = {expid: p.get("tuning", "untuned") for expid, p in params.items()}
    os.makedirs(out_dir, exist_ok=True)
    results_csv = os.path.join(out_dir, "results.csv")
    done = {(r["expid"], int(r["seed"])) for r in current_rows(read_results(results_csv), fingerprints)}
    plan = [(expid, seed) for expid in expids for seed in seeds]
    version = code_version()
    todo = [item for item in plan if item not in done]
    log(f"{len(plan)} runs ({len(expids)} experiments x {len(seeds)} seeds); {len(plan) - len(todo)} already in {results_csv}"
        + (f"; {threads} threads per run" if todo and not report_only else ""))
    dataset = title or folder_name(config_dirs[0])
    if report_only:
        todo = []
    for number, (expid, seed) in enumerate(todo, start=1):
        log(f"[{number}/{len(todo)}] {expid} seed {seed}")
        start = time.perf_counter()
        result = run_one(folders[expid], expid, seed, gpu, out_dir, data_root, log, nproc, max_epochs, threads)
        append_result(results_csv, result_row(result, fingerprints[expid], version, command))
        log(f"    test AUC {result['test']['AUC']:.6f}, logloss {result['test']['logloss']:.6f} "
            f"({time.perf_counter() - start:.0f} s)")
        update_leaderboard(out_dir, dataset, results_csv, fingerprints, command, tuning)
    return update_leaderboard(out_dir, dataset, results_csv, fingerprints, command, tuning)


def _unique(values, option, log):
    """``values`` without repeats, in order; a repeat is named (it would run the same run twice)."""
    unique = list(dict.fromkeys(values))
    if len(unique) < len(values):
        log(f"{option}: repeated values dropped ({', '.join(map(str, values))} -> {', '.join(map(str, unique))})")
    return unique


def update_leaderboard(out_dir, dataset, results_csv, fingerprints, command, tuning=None):
    """Rewrite leaderboard.md from the current rows; return them."""
    rows = read_results(results_csv)
    current = current_rows(rows, fingerprints)
    if current:
        write_leaderboard(os.path.join(out_dir, "leaderboard.md"), dataset, current, command,
                          stale=len(rows) - len(current), tuning=tuning)
    return current

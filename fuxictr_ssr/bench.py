"""``fuxictr-ssr bench``: every experiment x seed of a benchmark folder, one process each.

Each finished run is appended at once to ``<out>/results.csv`` (its FuxiCTR result line to
``<out>/<folder name>.csv``), so an interrupted benchmark loses nothing it finished; runs already
there are skipped, so re-running resumes; and
``<out>/leaderboard.md`` is rewritten after every run: mean ± std over seeds per experiment,
sorted by test AUC, each experiment's gap to the best other one with a Welch t-test over seeds,
and the published reference numbers of the dataset (BARS, the leaders) beside ours.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import torch

from .experiment import Experiment, config_fingerprint, folder_name, folders_of, resolve
from .leaderboard import current_rows, update_leaderboard
from .records import append_result, code_version, read_results, result_row
from .run_log import progress
from .safe_files import check_output_path, claimed


def current_fingerprints(config_dir, expids, max_epochs=None):
    """Each experiment's fingerprint, with ``epochs`` capped at ``max_epochs`` as the runs see it."""
    return {expid: config_fingerprint(resolve(config_dir, expid, max_epochs=max_epochs)) for expid in expids}


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
                seen = progress(message)
                if seen and seen[-1] != "start":  # metrics, epoch ends and early stops
                    log(f"    {message}")
        finally:
            if process.poll() is None and sys.exc_info()[0] is not None:
                process.terminate()  # the benchmark is stopping (Ctrl-C, an error): so does its run
        if process.wait() in (130, -signal.SIGINT):  # Ctrl-C reached the run first: an interrupt, not a failure
            raise KeyboardInterrupt
        if process.returncode != 0 or not os.path.isfile(result_json):
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
        resolved = Experiment.load(folders[expid], expid, overrides={"seed": seeds[0]}, data_root=data_root,
                                   max_epochs=max_epochs, gpu=gpu).params
        if not resolved.get("test_data"):
            raise ValueError(f"test_data: experiment {expid!r} of {folders[expid]} has no test split; a leaderboard "
                             "reports test metrics (selection uses validation), so its dataset needs one")
    params = {expid: resolve(folder, expid, max_epochs=max_epochs) for expid, folder in folders.items()}
    fingerprints = {expid: config_fingerprint(p) for expid, p in params.items()
                    if not report_only or expid in expids}  # a report of --expids shows just those
    tuning = {expid: p.get("tuning", "untuned") for expid, p in params.items()}
    os.makedirs(out_dir, exist_ok=True)
    with claimed(os.path.join(out_dir, ".bench.lock"), f"results folder {out_dir!r}"):  # one writer at a time
        return _run_plan(folders, expids, seeds, out_dir, fingerprints, tuning, command, log,
                         title or folder_name(config_dirs[0]), report_only,
                         dict(gpu=gpu, data_root=data_root, nproc=nproc, max_epochs=max_epochs, threads=threads))


def _run_plan(folders, expids, seeds, out_dir, fingerprints, tuning, command, log, dataset, report_only, run_options):
    """The runs not yet in ``<out_dir>/results.csv``, one after another, each row appended and the
    leaderboard rewritten as it finishes; on Ctrl-C, one line saying what is kept."""
    results_csv = os.path.join(out_dir, "results.csv")
    done = {(r["expid"], int(r["seed"])) for r in current_rows(read_results(results_csv), fingerprints)}
    plan = [(expid, seed) for expid in expids for seed in seeds]
    version = code_version()
    todo = [item for item in plan if item not in done]
    log(f"{len(plan)} runs ({len(expids)} experiments x {len(seeds)} seeds); {len(plan) - len(todo)} already in {results_csv}"
        + (f"; {run_options['threads']} threads per run" if todo and not report_only else ""))
    if report_only:
        todo = []
    for number, (expid, seed) in enumerate(todo, start=1):
        log(f"[{number}/{len(todo)}] {expid} seed {seed}")
        start = time.perf_counter()
        try:
            result = run_one(folders[expid], expid, seed, run_options["gpu"], out_dir, run_options["data_root"], log,
                             run_options["nproc"], run_options["max_epochs"], run_options["threads"])
        except KeyboardInterrupt:
            log(f"Interrupted during {expid} seed {seed}: the {number - 1} runs this command finished are in "
                f"{results_csv} with the {len(plan) - len(todo)} from before; rerun the same command to resume.")
            raise
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



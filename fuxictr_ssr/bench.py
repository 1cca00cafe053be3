"""``fuxictr-ssr bench``: every experiment x seed of a benchmark folder, one process each, one at a
time or side by side (``--gpus``, ``--jobs``: :mod:`fuxictr_ssr.scheduler`; ``--ray``:
:mod:`fuxictr_ssr.ray_cluster`), this process writing every result.

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

from .curves import plot_curves
from .experiment import Experiment, config_fingerprint, folder_name, folders_of, resolve
from .leaderboard import current_rows, update_leaderboard
from .records import append_result, append_result_line, code_version, read_results, result_row
from .run_log import progress
from .safe_files import check_output_path, claimed
from .scheduler import estimate, plan_slots, run_queue


def current_fingerprints(config_dir, expids, max_epochs=None):
    """Each experiment's fingerprint, with ``epochs`` capped at ``max_epochs`` as the runs see it."""
    return {expid: config_fingerprint(resolve(config_dir, expid, max_epochs=max_epochs)) for expid in expids}


def run_one(config_dir, expid, seed, gpu, out_dir, data_root, log, nproc=1, max_epochs=None, threads=1, env=None,
            running=None, cwd=None):
    """Run one experiment in its own process (``nproc`` data-parallel processes through torchrun)
    with ``threads`` intra-op threads, ``env`` added to its environment, in folder ``cwd`` (default
    this process's); return its result dict
    (raises on failure). The process is in ``running`` (a set) while it runs, for the driver to stop.
    Its FuxiCTR result line goes to a scratch file: the driver writes the kept one."""
    launcher = [sys.executable] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    with tempfile.TemporaryDirectory() as scratch:
        result_json = os.path.join(scratch, "result.json")
        command = launcher + ["-m", "fuxictr_ssr", "run", "--config", config_dir, "--expid", expid,
                   "--gpu", str(gpu), "--seed", str(seed), "--threads", str(threads), "--result-json", result_json,
                   "--model-root", os.path.join(out_dir, "checkpoints", f"seed_{seed}"),
                   "--result-csv", os.path.join(scratch, "result_line.csv")]
        if data_root:
            command += ["--data-root", data_root]
        if max_epochs is not None:
            command += ["--max-epochs", str(max_epochs)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=_die_with_parent, env={**os.environ, **(env or {})}, cwd=cwd)
        running = set() if running is None else running
        running.add(process)
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
            running.discard(process)
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
                  title=None, report_only=False, nproc=1, max_epochs=None, threads=None, gpus=None, jobs=None,
                  ray=None):
    """Run every (expid, seed) not yet in ``<out_dir>/results.csv``; return the current rows.

    ``config_dir`` is one config folder or a list of them (e.g. a benchmark folder and the chosen
    points of ``fuxictr-ssr tune``), every experiment id defined once among them; ``title`` names
    the leaderboard (default: the first folder's name, e.g. ``Frappe_x1``); ``report_only``
    rewrites the leaderboard from the rows there and runs nothing; ``nproc`` trains each run
    data-parallel in that many processes (one GPU each from ``gpu`` on, or CPU); ``max_epochs``
    caps every experiment's ``epochs`` (part of each row's fingerprint); ``threads`` pins every
    run's torch thread count (default: this process's, or the cores shared by ``jobs``), recorded
    in each row, since the float sums of a run, and so its metrics, depend on it. ``gpus`` (device
    indices) runs one run per device (per ``nproc`` devices) at a time, ``jobs`` that many CPU runs
    at once (:mod:`fuxictr_ssr.scheduler`); ``ray`` (an address) runs each as a task of that Ray
    cluster, on GPUs when ``gpu`` >= 0 (:mod:`fuxictr_ssr.ray_cluster`)."""
    config_dirs = [d.rstrip("/") for d in ([config_dir] if isinstance(config_dir, str) else config_dir)]
    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"--nproc: expected a positive integer, got {nproc!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"--threads: expected a positive integer, got {threads!r}")
    if ray and (gpus or jobs):
        raise ValueError(f"--ray: the cluster places the runs; leave out {'--gpus' if gpus else '--jobs'}")
    slots = plan_slots(gpus, jobs, nproc, threads, -1 if ray else gpu)
    folders = folders_of(config_dirs)
    expids, seeds = _unique(expids or list(folders), "--expids", log), _unique(seeds, "--seeds", log)
    missing = [expid for expid in expids if expid not in folders]
    if missing:
        raise ValueError(f"--expids: {', '.join(missing)} not found in {', '.join(config_dirs)}; "
                         f"available: {', '.join(folders) or '(none)'}")
    check_output_path(out_dir, "--out", is_folder=True)
    _check_experiments(folders, expids, seeds[0], data_root, max_epochs, check_data=not report_only)
    params = {expid: resolve(folder, expid, max_epochs=max_epochs) for expid, folder in folders.items()}
    fingerprints = {expid: config_fingerprint(p) for expid, p in params.items()
                    if not report_only or expid in expids}  # a report of --expids shows just those
    tuning = {expid: p.get("tuning", "untuned") for expid, p in params.items()}
    os.makedirs(out_dir, exist_ok=True)
    with claimed(os.path.join(out_dir, ".bench.lock"), f"results folder {out_dir!r}"):  # one writer at a time
        board = Board(out_dir, title or folder_name(config_dirs[0]), fingerprints, tuning, command, log)
        if report_only:
            board.log_plan(expids, seeds, board.pending(expids, seeds)[0], [], slots)
            return board.update()
        write_doctor_report(out_dir)
        options = dict(data_root=data_root and os.path.abspath(data_root), nproc=nproc, max_epochs=max_epochs)
        if not ray:
            return board.run(folders, expids, seeds, slots, options, _local_runner)
        from .ray_cluster import RayRunner, cluster_slots, connect
        cluster, use_gpus = connect(ray), gpu is not None and gpu >= 0
        runner = RayRunner(cluster, nproc, threads or 1, use_gpus)
        return board.run(folders, expids, seeds, cluster_slots(cluster, nproc, threads or 1, use_gpus), options,
                         runner.run, runner.stop_all)


def write_doctor_report(out_dir):
    """``doctor.md`` beside the leaderboard: the software and devices of the machine running it."""
    from .doctor import report, run_checks
    with open(os.path.join(out_dir, "doctor.md"), "w") as handle:
        handle.write(report(run_checks()))


def _check_experiments(folders, expids, seed, data_root, max_epochs, check_data=True):
    """Every config and data error of ``expids``, before the first run starts (a report reads
    no data: ``check_data=False``)."""
    for expid in expids:
        resolved = Experiment.load(folders[expid], expid, overrides={"seed": seed}, data_root=data_root,
                                   max_epochs=max_epochs, check_data=check_data).params
        if not resolved.get("test_data"):
            raise ValueError(f"test_data: experiment {expid!r} of {folders[expid]} has no test split; a leaderboard "
                             "reports test metrics (selection uses validation), so its dataset needs one")


def _local_runner(run_args, run_kwargs):
    return run_one(*run_args, **run_kwargs)


class Board:
    """A results folder being filled: the rows, the FuxiCTR result lines and the leaderboard,
    written by this (the driver's) thread alone, one finished run at a time."""

    def __init__(self, out_dir, title, fingerprints, tuning, command, log):
        self.out_dir, self.title, self.fingerprints, self.tuning = out_dir, title, fingerprints, tuning
        self.command, self.log = command, log
        self.results_csv = os.path.join(out_dir, "results.csv")

    def update(self):
        """Rewrite the leaderboard and its curves plot from the current rows; return them."""
        rows = update_leaderboard(self.out_dir, self.title, self.results_csv, self.fingerprints, self.command,
                                  self.tuning)
        plot_curves(self.out_dir, self.title, rows)
        return rows

    def pending(self, expids, seeds):
        """``(plan, todo)``: every (expid, seed), and those with no current row in ``results.csv``."""
        done = {(r["expid"], int(r["seed"])) for r in current_rows(read_results(self.results_csv), self.fingerprints)}
        plan = [(expid, seed) for expid in expids for seed in seeds]
        return plan, [item for item in plan if item not in done]

    def log_plan(self, expids, seeds, plan, todo, slots):
        threads = {slot.threads for slot in slots}
        self.log(f"{len(plan)} runs ({len(expids)} experiments x {len(seeds)} seeds); {len(plan) - len(todo)} already "
                 f"in {self.results_csv}" + (f"; {'/'.join(map(str, threads))} threads per run" if todo else "")
                 + (f"; {len(slots)} at once ({', '.join(s.label for s in slots)})" if todo and len(slots) > 1 else ""))

    def run(self, folders, expids, seeds, slots, options, runner, stop_runner=None):
        """The runs not yet in ``results.csv``, ``len(slots)`` at a time, each through
        ``runner(run_one's args, its keywords)``; a failed run is named at the end (the others go
        on); on Ctrl-C, one line saying what is kept."""
        plan, todo = self.pending(expids, seeds)
        self.log_plan(expids, seeds, plan, todo, slots)
        before = len(plan) - len(todo)
        version, running, in_progress, failures = code_version(), set(), set(), []
        finished_runs = {"count": 0, "seconds": 0.0}

        def launch(item, slot):
            expid, seed = item
            in_progress.add(item)
            self.log(f"{expid} seed {seed}: started" + (f" on {slot.label}" if len(slots) > 1 else ""))
            prefix = f"    [{expid} seed {seed}] " if len(slots) > 1 else "    "
            return runner((os.path.abspath(folders[expid]), expid, seed, slot.gpu, os.path.abspath(self.out_dir),
                           options["data_root"]),
                          dict(log=lambda line: self.log(prefix + line.strip()), nproc=options["nproc"],
                               max_epochs=options["max_epochs"], threads=slot.threads, env=slot.env, running=running,
                               cwd=os.getcwd()))

        def finished(item, result, seconds):
            (expid, seed), count = item, finished_runs["count"] + 1
            in_progress.discard(item)
            # FuxiCTR's line first: the row marks the run done, so a kill between the two writes makes
            # the rerun repeat the run rather than keep a row whose line is lost
            append_result_line(os.path.join(self.out_dir, os.path.basename(folders[expid]) + ".csv"), expid,
                               result["dataset_id"], result["valid"], result["test"])
            append_result(self.results_csv, result_row(result, self.fingerprints[expid], version, self.command))
            finished_runs.update(count=count, seconds=finished_runs["seconds"] + seconds)
            left = len(todo) - count - len(failures)
            self.log(f"[{count}/{len(todo)}] {expid} seed {seed}: test AUC {result['test']['AUC']:.6f}, logloss "
                     f"{result['test']['logloss']:.6f} ({seconds:.0f} s); {left} left"
                     + estimate(finished_runs["seconds"], count, left, len(slots)))
            self.update()

        def failed(item, error):
            in_progress.discard(item)
            failures.append(item)
            self.log(f"{item[0]} seed {item[1]} failed: {error}")

        def stop_all():
            for process in list(running):
                process.terminate()
            if stop_runner:
                stop_runner()

        try:
            run_queue(todo, slots, launch, finished, failed, stop_all)
        except KeyboardInterrupt:
            stopped = ", ".join(f"{expid} seed {seed}" for expid, seed in sorted(in_progress)) or "the runs"
            self.log(f"Interrupted during {stopped}: the {finished_runs['count']} runs this command finished are in "
                     f"{self.results_csv} with the {before} from before; rerun the same command to resume.")
            raise
        board = self.update()
        if failures:
            raise ValueError(f"{len(failures)} of {len(todo)} runs failed ({', '.join(f'{e} seed {s}' for e, s in failures)}; "
                             f"their last lines are above); the others are in {self.results_csv}: rerun the same "
                             "command to retry the failed ones")
        return board


def _unique(values, option, log):
    """``values`` without repeats, in order; a repeat is named (it would run the same run twice)."""
    unique = list(dict.fromkeys(values))
    if len(unique) < len(values):
        log(f"{option}: repeated values dropped ({', '.join(map(str, values))} -> {', '.join(map(str, unique))})")
    return unique



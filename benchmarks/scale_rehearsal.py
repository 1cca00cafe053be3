"""Criteo at its real size, rehearsed: from a generated raw Kaggle ``train.txt`` to a trained model,
each stage in its own process under ``/usr/bin/time -v``.

    python benchmarks/scale_rehearsal.py --rows 1e6,4e6,16e6,45840617 --out results/scale_rehearsal

For each size: ``generate`` (``fuxictr-ssr data synth-criteo-raw``), ``prepare`` (``fuxictr-ssr data
prepare Criteo_x4_001``: BARS's stratified split), ``build`` (the h5 store: vocabulary fit and
encoding, as a run does before its first epoch), then ``train_SSR`` and ``train_DNN``: a fixed
number of steps (``--steps``) of ``model_zoo/SSR``'s ``SSR_criteo_x4`` and of
``benchmark_configs/Criteo_x4_001``'s ``DNN_criteo_x4_001`` with the streaming loader, one torch
thread; at ``--epoch-at`` rows also ``epoch_SSR``, one full epoch. Each stage's wall and CPU
seconds, peak RSS and the disk the work folder holds after it are appended to
``<out>/rehearsal.csv`` as it finishes, so a rerun skips what is done and resumes; a size's files
are deleted once its stages are measured (``--keep`` keeps them). ``<out>/rehearsal.md`` and
``rehearsal.png`` (time and peak memory against rows) are rewritten after every stage.
"""
import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
STAGES = ["generate", "prepare", "build", "train_SSR", "train_DNN", "epoch_SSR"]
COLUMNS = ["rows", "stage", "wall_s", "cpu_s", "peak_rss_mb", "disk_gb", "detail", "finished_at"]
MODELS = {"SSR": (os.path.join(REPO_ROOT, "model_zoo", "SSR", "config"), "SSR_criteo_x4"),
          "DNN": (os.path.join(REPO_ROOT, "benchmark_configs", "Criteo_x4_001"), "DNN_criteo_x4_001")}


def paths(work, rows):
    base = os.path.join(work, f"rows_{rows}")
    return {"base": base, "raw": os.path.join(base, "raw", "train.txt"),
            "splits": os.path.join(base, "data", "Criteo", "Criteo_x4_001"), "data_root": os.path.join(base, "data")}


def stage_commands(rows, stage, args):
    """The command line of one stage (the training and build stages re-enter this script)."""
    where = paths(args.work, rows)
    cli = [sys.executable, "-m", "fuxictr_ssr"]
    if stage == "generate":
        return cli + ["data", "synth-criteo-raw", "--out", where["raw"], "--rows", str(rows), "--seed", str(args.seed)]
    if stage == "prepare":
        return cli + ["data", "prepare", "Criteo_x4_001", "--source", where["raw"], "--out", where["splits"]]
    return [sys.executable, os.path.abspath(__file__), "_stage", stage, "--data-root", where["data_root"],
            "--steps", str(args.steps), "--work", args.work]


def experiment_of(name, data_root, work):
    from fuxictr_ssr.experiment import Experiment
    config, expid = MODELS[name]
    return Experiment.load(config, expid, overrides={"data_loader": "streaming", "log_to_console": False,
                                                     "model_root": os.path.join(work, "checkpoints")},
                           data_root=data_root)


class ResidentPeaks:
    """The process's peak anonymous and file-backed resident memory (MB), sampled every 50 ms:
    ``/usr/bin/time``'s peak RSS counts both, and file-backed pages (a memory-mapped csv) are page
    cache the kernel can drop, not memory the process needs."""

    def __init__(self):
        self.anon = self.file = 0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self):
        while True:
            status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
            self.anon = max(self.anon, int(status["RssAnon"].split()[0]) // 1024)
            self.file = max(self.file, int(status["RssFile"].split()[0]) // 1024)
            time.sleep(0.05)


def run_stage(stage, data_root, steps, work):
    """In the stage's own process: build the store, or train; print one JSON line of details."""
    import torch
    peaks = ResidentPeaks()
    torch.set_num_threads(1)
    experiment = experiment_of("SSR" if stage in ("build", "train_SSR", "epoch_SSR") else "DNN", data_root, work)
    if stage == "build":
        experiment.data.check_raw()
    feature_map, split_paths = experiment.data.prepare()
    vocab = {name: spec.get("vocab_size") for name, spec in feature_map.features.items()}
    if stage == "build":
        print(json.dumps({"vocab_total": sum(vocab.values()), "peak_anon_mb": peaks.anon, "peak_file_mb": peaks.file,
                          "vocab": vocab}))
        return
    model = experiment.model_class(feature_map, **experiment.params)
    train_gen, _ = experiment.data.loaders(feature_map, split_paths, "train")
    limit = None if stage.startswith("epoch") else steps
    model._max_gradient_norm = experiment.params.get("max_gradient_norm", 10.0)  # as BaseModel.fit sets it
    model.train()
    done, samples, start = 0, 0, time.perf_counter()
    for batch in train_gen:
        model.train_step(batch)
        done, samples = done + 1, samples + len(model.get_labels(batch))
        if done == limit:
            break
    seconds = time.perf_counter() - start
    print(json.dumps({"steps": done, "samples": samples, "samples_per_s": round(samples / seconds, 1),
                      "train_seconds": round(seconds, 1), "vocab_total": sum(vocab.values()),
                      "peak_anon_mb": peaks.anon, "peak_file_mb": peaks.file}))


def measured(command):
    """Run ``command`` under ``/usr/bin/time -v``; return (wall s, CPU s, peak RSS MB, stdout)."""
    done = subprocess.run(["/usr/bin/time", "-v"] + command, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")

    def field(label):
        return re.search(rf"{re.escape(label)}: (.+)", done.stderr).group(1).strip()

    wall = sum(float(part) * 60 ** power for power, part in enumerate(reversed(field(
        "Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"))))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return wall, cpu, int(field("Maximum resident set size (kbytes)")) / 1024, done.stdout


def disk_gb(folder):
    total = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)
    return total / 2 ** 30


def read_rows(path):
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def append_row(path, row):
    new = not os.path.isfile(path)
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def stages_of(rows, args):
    wanted = STAGES[:5] + (["epoch_SSR"] if rows == args.epoch_at else [])
    return [stage for stage in wanted if args.stages is None or stage in args.stages]


def rehearse(args):
    results = os.path.join(args.out, "rehearsal.csv")
    os.makedirs(args.out, exist_ok=True)
    for rows in args.rows:
        done = {r["stage"] for r in read_rows(results) if int(r["rows"]) == rows}
        todo = [stage for stage in stages_of(rows, args) if stage not in done]
        for stage in todo:
            if stage in ("prepare", "build") or stage.startswith(("train", "epoch")):
                needed = {"prepare": "generate", "build": "prepare"}.get(stage, "build")
                if not os.path.exists(paths(args.work, rows)["raw" if needed == "generate" else "splits"]):
                    raise SystemExit(f"{rows} rows: {stage} needs the files of {needed}, deleted after an earlier "
                                     f"run; delete that size's rows from {results} to redo it")
            print(f"{rows:,} rows: {stage} ...", flush=True)
            wall, cpu, rss, stdout = measured(stage_commands(rows, stage, args))
            detail = stdout.strip().splitlines()[-1] if stage in ("build",) or stage.startswith(("train", "epoch")) else ""
            append_row(results, {"rows": rows, "stage": stage, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                                 "peak_rss_mb": round(rss), "disk_gb": round(disk_gb(paths(args.work, rows)["base"]), 2),
                                 "detail": detail, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            print(f"    {wall:.0f} s wall, {cpu:.0f} s CPU, peak RSS {rss:.0f} MB", flush=True)
            report(args.out)
        if not args.keep and os.path.isdir(paths(args.work, rows)["base"]):
            shutil.rmtree(paths(args.work, rows)["base"])
    report(args.out)


def report(out):
    from fuxictr_ssr.records import cpu_name
    rows = sorted(read_rows(os.path.join(out, "rehearsal.csv")), key=lambda r: (int(r["rows"]), STAGES.index(r["stage"])))
    lines = ["# Criteo at its real size: the rehearsal", "",
             f"Machine: {cpu_name()}, {os.cpu_count()} cores; one torch thread per stage, each stage its own "
             "process under `/usr/bin/time -v`.  ",
             "Command: `python benchmarks/scale_rehearsal.py " + " ".join(a for a in sys.argv[1:] if a != "--report-only")
             + "` (resumable: it skips the stages already in rehearsal.csv)", "",
             "Peak RSS is `/usr/bin/time`'s (anonymous and file-backed pages together); the build and training "
             "stages also give their anonymous and file-backed peaks apart in the detail column. CPU s per 1M rows "
             "is given for the data stages, whose work grows with the rows.", "",
             "| rows | stage | wall s | CPU s | CPU s per 1M rows | peak RSS MB | disk GB after | detail |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        per_million = f"{float(r['cpu_s']) / int(r['rows']) * 1e6:.1f}" if r["stage"] in STAGES[:3] else "-"
        detail = r["detail"]
        if detail:
            figures = json.loads(detail)
            detail = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in figures.items()
                               if k != "vocab")
        lines.append(f"| {int(r['rows']):,} | {r['stage']} | {float(r['wall_s']):.0f} | {float(r['cpu_s']):.0f} | "
                     f"{per_million} | {r['peak_rss_mb']} | {r['disk_gb']} | {detail} |")
    with open(os.path.join(out, "rehearsal.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    plot(rows, os.path.join(out, "rehearsal.png"))


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for stage in dict.fromkeys(r["stage"] for r in rows):
        points = sorted((int(r["rows"]), float(r["wall_s"]), int(r["peak_rss_mb"])) for r in rows if r["stage"] == stage)
        left.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=stage)
        right.plot([p[0] for p in points], [p[2] / 1024 for p in points], marker="o", label=stage)
    left.set_yscale("log")
    for axis, label in ((left, "wall seconds"), (right, "peak RSS (GiB)")):
        axis.set_xscale("log")
        axis.set_xlabel("raw rows")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    right.axhline(8, color="grey", linestyle="--", linewidth=1)
    left.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def row_counts(text):
    from fuxictr_ssr.cli import row_count
    return [row_count(part) for part in text.split(",")]


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "_stage":
        parser = argparse.ArgumentParser()
        parser.add_argument("stage")
        parser.add_argument("--data-root", required=True)
        parser.add_argument("--steps", type=int, required=True)
        parser.add_argument("--work", required=True)
        args = parser.parse_args(sys.argv[2:])
        return run_stage(args.stage, args.data_root, args.steps, args.work)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=row_counts, required=True, help="comma-separated sizes, e.g. 1e6,4e6")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "results", "scale_rehearsal"),
                        help="results folder (rehearsal.csv, .md, .png)")
    parser.add_argument("--work", default=os.path.join(REPO_ROOT, "data", "scale_rehearsal"),
                        help="where each size's raw file, splits and store go (deleted after unless --keep)")
    parser.add_argument("--steps", type=int, default=100, help="training steps of each train stage")
    parser.add_argument("--epoch-at", type=lambda text: row_counts(text)[0], default=4_000_000,
                        help="the size at which SSR also trains one full epoch")
    parser.add_argument("--seed", type=int, default=2026, help="generator seed")
    parser.add_argument("--keep", action="store_true", help="keep each size's files")
    parser.add_argument("--report-only", action="store_true", help="rewrite rehearsal.md and .png from the csv")
    parser.add_argument("--stages", type=lambda text: text.split(","),
                        help=f"only these stages (default all: {','.join(STAGES)}); a stage needs the ones before it")
    args = parser.parse_args()
    args.work, args.out = os.path.abspath(args.work), os.path.abspath(args.out)
    report(args.out) if args.report_only else rehearse(args)


if __name__ == "__main__":
    main()

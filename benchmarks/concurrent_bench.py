"""Wall time of a small folder's leaderboard with ``bench --jobs 2`` against one run at a time.

    python benchmarks/concurrent_bench.py --out results/concurrent_bench.md

Writes a generated dataset (``fuxictr-ssr data synth``) and a config folder of three experiments
(DNN, SSR-D, SSR-S), then times the whole ``fuxictr-ssr bench`` command over 2 seeds (6 runs) three
ways, each into a fresh results folder, the ways alternating over ``--rounds``: one run at a time
with one thread (``--threads 1``: the same threads per run as ``--jobs 2`` on 2 cores, so the same
rows), one run at a time with every core (``--threads`` = cores, bench's default), and ``--jobs 2``.
The rows of the first and the last are checked equal.
"""
import argparse
import csv
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml
from report import emit

EXPERIMENTS = {
    "DNN_small": {"model": "DNN", "hidden_units": [256, 256, 256]},
    "SSR_D_small": {"model": "SSR", "filter_type": "ics", "num_views": [4, 4], "view_dims": [64, 64]},
    "SSR_S_small": {"model": "SSR", "filter_type": "static", "num_views": [8, 8], "view_dims": [64, 64],
                    "fusion_layers": 2, "ics_iterations": 0},
}
METRICS = ("valid_AUC", "valid_logloss", "test_AUC", "test_logloss")


def write_folder(root, rows):
    from fuxictr_ssr.data import SyntheticSpec, dataset_config, write_splits
    spec = SyntheticSpec(num_rows=rows, num_fields=16, num_informative=3, num_interactions=2, vocab_size=30, seed=5)
    data = os.path.join(root, "data", "small")
    write_splits(spec, data)
    config = os.path.join(root, "config")
    os.makedirs(config)
    with open(os.path.join(config, "dataset_config.yaml"), "w") as handle:
        yaml.safe_dump(dataset_config(spec, "small", data, os.path.join(root, "data")), handle)
    base = {"model_root": "unused", "epochs": 2, "batch_size": 512, "embedding_dim": 8, "seed": 2021, "verbose": 0,
            "metrics": ["logloss", "AUC"], "monitor": "AUC"}
    with open(os.path.join(config, "model_config.yaml"), "w") as handle:
        yaml.safe_dump({"Base": base, **{k: {**v, "dataset_id": "small"} for k, v in EXPERIMENTS.items()}}, handle)
    return config


def timed_bench(config, out, options):
    command = [sys.executable, "-m", "fuxictr_ssr", "bench", "--config", config, "--seeds", "1,2", "--out", out,
               *options]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stdout[-2000:] + done.stderr[-2000:])
    return time.perf_counter() - start


def rows_of(out):
    with open(os.path.join(out, "results.csv")) as handle:
        return sorted(((r["expid"], r["seed"]) + tuple(r[m] for m in METRICS) for r in csv.DictReader(handle)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=30_000, help="generated rows (80/10/10 split)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", help="also write the markdown report here")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    ways = {"one at a time, 1 thread": ["--threads", "1"], f"one at a time, {cores} threads": ["--threads", str(cores)],
            "--jobs 2 (1 thread each)": ["--jobs", "2"]}
    times = {way: [] for way in ways}
    with tempfile.TemporaryDirectory() as root:
        config = write_folder(root, args.rows)
        timed_bench(config, os.path.join(root, "warm"), ["--threads", "1", "--expids", "DNN_small"])  # builds the h5
        for round_index in range(args.rounds):
            for way, options in ways.items():
                out = os.path.join(root, f"out_{round_index}_{list(ways).index(way)}")
                times[way].append(timed_bench(config, out, options))
                print(f"round {round_index + 1}: {way}: {times[way][-1]:.1f} s", flush=True)
        same = rows_of(os.path.join(root, "out_0_0")) == rows_of(os.path.join(root, "out_0_2"))
        shutil.rmtree(os.path.join(root, "data"))
    from fuxictr_ssr.records import cpu_name
    baseline = statistics.median(times["one at a time, 1 thread"])
    lines = ["# A small leaderboard: `--jobs 2` against one run at a time", "",
             f"Command: `python benchmarks/concurrent_bench.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
             f"Machine: {cpu_name()}, {cores} cores, nothing else running; Python {platform.python_version()}  ",
             f"Folder: 3 experiments ({', '.join(EXPERIMENTS)}) x seeds 1,2 = 6 runs, {args.rows:,} generated rows, "
             f"2 epochs; each way a whole `fuxictr-ssr bench` command into a fresh results folder, the ways alternating "
             f"over {args.rounds} rounds (the h5 store built before).", "",
             "| way | wall s per round | median | vs one at a time, 1 thread |", "|---|---|---|---|"]
    for way, values in times.items():
        lines.append(f"| {way} | {', '.join(f'{v:.1f}' for v in values)} | {statistics.median(values):.1f} | "
                     f"{statistics.median(values) / baseline:.2f} |")
    lines += ["", f"Rows of `--jobs 2` equal to those of one at a time with 1 thread (round 1): {'yes' if same else 'NO'}."]
    emit(lines, args.out)


if __name__ == "__main__":
    main()

"""Data path: build time, loader throughput, memory and epoch time, h5 (ours) against fuxictr's paths.

    python benchmarks/data_path.py --config benchmark_configs/Frappe_x1 --data-root ./data/ --out results/data_path.md

For the dataset of a benchmark folder (raw csv splits under --data-root), every step runs in a
fresh process so its peak RSS (VmHWM) is its own:

* build: csv -> h5 (our store, no Ray) and csv -> parquet (fuxictr's build_dataset, Ray);
  seconds, peak RSS of the building process (Ray's worker processes are not included) and
  whether Ray was started;
* load: one shuffled epoch of the train split in batches of --batch-size through our h5 loaders
  (in-memory and streaming) and fuxictr's parquet (Ray) and npz loaders: samples/s, the loader's
  memory (peak RSS minus the RSS before it was made) against the split's column bytes;
* train: one epoch of the folder's DNN experiment fed by each loader, and the same DNN's
  training step on one preloaded batch (what a loader must keep up with).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

LOADERS = ("h5 in-memory", "h5 streaming", "fuxictr parquet", "fuxictr npz")


def rss_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def dnn_params(args, data_format, store):
    from fuxictr_ssr.experiment import Experiment, list_expids
    expid = next(e for e in list_expids(args.config) if e.startswith("DNN_") and "_wide" not in e and "_deep" not in e)
    experiment = Experiment.load(args.config, expid, overrides={"data_format": data_format, "log_to_console": False},
                                 data_root=args.data_root)
    params, model_class = experiment.params, experiment.model_class
    params["data_root"] = os.path.join(args.work, store)
    params["model_root"] = os.path.join(args.work, "checkpoints")
    return params, model_class


def ray_started():
    """Whether Ray was started (fuxictr's preprocess package imports the module in any case)."""
    return "ray" in sys.modules and sys.modules["ray"].is_initialized()


def step_build(args, store):
    from fuxictr_ssr.data.dataset import DataPlan
    from fuxictr_ssr.run_log import setup_logging
    params, _ = dnn_params(args, "h5" if store == "h5" else "csv", store)
    setup_logging(params)
    start = time.perf_counter()
    DataPlan(params).prepare()
    return {"seconds": time.perf_counter() - start, "peak_rss_mb": rss_mb("VmHWM"), "ray": ray_started()}


def write_npz(args):
    """fuxictr's npz layout (one array per column) from the h5 store, for its npz loader."""
    import h5py
    import numpy as np
    folder = os.path.join(args.work, "npz")
    os.makedirs(folder, exist_ok=True)
    with h5py.File(os.path.join(args.work, "h5", args.dataset_id, "train.h5")) as store:
        np.savez(os.path.join(folder, "train.npz"), **{name: store[name][:] for name in store})


def make_loader(args, kind, feature_map, batch_size):
    from fuxictr_ssr.data import ColumnarDataLoader, StreamingH5Loader
    h5_path = os.path.join(args.work, "h5", args.dataset_id, "train.h5")
    options = {"split": "train", "batch_size": batch_size, "shuffle": True, "seed": 2021}
    if kind == "h5 in-memory":
        return ColumnarDataLoader(feature_map, h5_path, **options)
    if kind == "h5 streaming":
        return StreamingH5Loader(feature_map, h5_path, **options)
    if kind == "fuxictr parquet":
        from fuxictr.pytorch.dataloaders.parquet_dataloader import ParquetDataLoader
        return ParquetDataLoader(feature_map, os.path.join(args.work, "parquet", args.dataset_id, "train.parquet"),
                                 **options)
    from fuxictr.pytorch.dataloaders.npz_dataloader import NpzDataLoader
    return NpzDataLoader(feature_map, os.path.join(args.work, "npz", "train.npz"), **options)


def load_feature_map(args):
    from fuxictr_ssr.data.dataset import DataPlan
    params, model_class = dnn_params(args, "h5", "h5")
    return DataPlan(params).prepare()[0], params, model_class


def step_load(args, kind):
    from fuxictr_ssr.data.h5_store import column_bytes
    feature_map, _, _ = load_feature_map(args)
    before = rss_mb("VmRSS")
    start = time.perf_counter()
    loader = make_loader(args, kind, feature_map, args.batch_size)
    made = time.perf_counter() - start
    start, rows = time.perf_counter(), 0
    for batch in loader:
        rows += len(batch[feature_map.labels[0]])
    epoch = time.perf_counter() - start
    return {"init_s": made, "samples_s": rows / epoch, "rows": rows, "loader_mb": rss_mb("VmHWM") - before,
            "column_mb": column_bytes([os.path.join(args.work, "h5", args.dataset_id, "train.h5")]) / 2 ** 20,
            "ray": ray_started()}


def step_train(args, kind):
    import torch
    torch.set_num_threads(args.threads)
    feature_map, params, model_class = load_feature_map(args)
    model = model_class(feature_map, **params)
    model._max_gradient_norm = params.get("max_gradient_norm", 10.0)  # what BaseModel.fit sets up
    model.train()
    loader = make_loader(args, kind, feature_map, params["batch_size"])
    start, rows = time.perf_counter(), 0
    for batch in loader:
        model.train_step(batch)
        rows += len(batch[feature_map.labels[0]])
    result = {"epoch_s": time.perf_counter() - start, "rows": rows}
    batch = next(iter(make_loader(args, "h5 in-memory", feature_map, params["batch_size"])))
    for _ in range(3):
        model.train_step(batch)
    start = time.perf_counter()
    for _ in range(10):
        model.train_step(batch)
    result["step_samples_s"] = 10 * len(batch[feature_map.labels[0]]) / (time.perf_counter() - start)
    return result


def child(args, step, name):
    command = [sys.executable, os.path.abspath(__file__), "--config", args.config, "--data-root", args.data_root,
               "--work", args.work, "--batch-size", str(args.batch_size), "--threads", str(args.threads),
               "--child", step, name]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{step} {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine():
    import torch
    from fuxictr_ssr.records import cpu_name
    return f"{cpu_name()}; {os.cpu_count()} cores; torch {torch.__version__}; Python {platform.python_version()}"


def report(args, builds, loads, trains):
    import fuxictr
    lines = [f"## {os.path.basename(os.path.normpath(args.config))}", "",
             f"Machine: {machine()}; fuxictr {fuxictr.__version__}; {args.threads} torch threads.  ",
             f"Command: `python benchmarks/data_path.py {' '.join(args.argv)}`", "",
             "| build | seconds | peak RSS MB (building process) | Ray started |", "|---|---|---|---|"]
    lines += [f"| {name} | {b['seconds']:.1f} | {b['peak_rss_mb']:.0f} | {'yes' if b['ray'] else 'no'} |"
              for name, b in builds.items()]
    if args.build_only:
        return "\n".join(lines) + "\n"
    step_rate = trains["h5 in-memory"]["step_samples_s"]
    lines += ["", f"Train split: {loads['h5 in-memory']['rows']:,} rows, column bytes "
                  f"{loads['h5 in-memory']['column_mb']:.1f} MB. One shuffled epoch, batch {args.batch_size}. "
                  f"The DNN's training step alone runs at {step_rate:,.0f} samples/s.", "",
              "| loader | make s | samples/s | x DNN step | loader MB | MB / column MB | Ray started | DNN epoch s |",
              "|---|---|---|---|---|---|---|---|"]
    for name in LOADERS:
        r, t = loads[name], trains[name]
        lines.append(f"| {name} | {r['init_s']:.1f} | {r['samples_s']:,.0f} | {r['samples_s'] / step_rate:.1f} | "
                     f"{r['loader_mb']:.0f} | {r['loader_mb'] / r['column_mb']:.2f} | {'yes' if r['ray'] else 'no'} | "
                     f"{t['epoch_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="benchmark folder (its DNN experiment and dataset)")
    parser.add_argument("--data-root", required=True, help="where the raw csv splits are (replaces data_root)")
    parser.add_argument("--work", help="scratch folder for the stores (default: a new temporary folder)")
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="append the markdown section to this file")
    parser.add_argument("--build-only", action="store_true", help="measure the two builds only")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    args.work = args.work or tempfile.mkdtemp(prefix="fuxictr_ssr_data_path_")
    from fuxictr_ssr.config import load_params
    from fuxictr_ssr.experiment import list_expids
    args.dataset_id = load_params(args.config, list_expids(args.config)[0])["dataset_id"]
    if args.child:
        step, name = args.child
        handler = {"build": step_build, "load": step_load, "train": step_train}[step]
        print(json.dumps(handler(args, name)))
        return
    if os.path.isdir(args.work):
        raise SystemExit(f"--work: {args.work!r} exists; give an empty scratch folder (builds are timed from scratch)")
    builds = {"csv -> h5 (ours)": child(args, "build", "h5"), "csv -> parquet (fuxictr)": child(args, "build", "parquet")}
    loads, trains = {}, {}
    if not args.build_only:
        write_npz(args)
        loads = {name: child(args, "load", name) for name in LOADERS}
        trains = {name: child(args, "train", name) for name in LOADERS}
    from fuxictr_ssr.records import publish_report
    publish_report(report(args, builds, loads, trains), args.out)


if __name__ == "__main__":
    main()

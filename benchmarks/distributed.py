"""Training throughput with 1, 2, ... data-parallel processes (torchrun, gloo on CPU or NCCL on GPUs).

    python benchmarks/distributed.py --config benchmark_configs/Frappe_x1 --expid DNN_frappe_x1 \\
        --data-root ./data/ --nproc 1,2 --epochs 2 --out results/distributed.md

Each process count trains the same experiment (same global batch, ``--epochs`` epochs, early
stopping off) through ``fuxictr-ssr run``; the table gives training samples/s (all processes
together), the speed-up over one process and the scaling efficiency (speed-up / processes), and
the test AUC, which should barely move: N processes see the same global batches as one.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import yaml


def write_config(config_dir, expid, epochs, folder):
    from fuxictr_ssr.config import load_dataset_block, load_params
    params = load_params(config_dir, expid)
    dataset = load_dataset_block(config_dir, params["dataset_id"])
    dataset.pop("dataset_id")
    experiment = {k: v for k, v in params.items() if k not in dataset and k != "model_id"}
    experiment.update(epochs=epochs, early_stop_patience=epochs + 1, verbose=0)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "dataset_config.yaml"), "w") as handle:
        yaml.safe_dump({params["dataset_id"]: dataset}, handle, sort_keys=False)
    with open(os.path.join(folder, "model_config.yaml"), "w") as handle:
        yaml.safe_dump({expid: experiment}, handle, sort_keys=False)
    return folder


def run(args, config, nproc, scratch):
    result_json = os.path.join(scratch, f"result_{nproc}.json")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               "-m", "fuxictr_ssr", "run", "--config", config, "--expid", args.expid, "--gpu", str(args.gpu),
               "--model-root", os.path.join(scratch, f"checkpoints_{nproc}"), "--result-json", result_json,
               "--result-csv", os.path.join(scratch, "results.csv")]
    if args.data_root:
        command += ["--data-root", args.data_root]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{nproc} processes failed:\n{done.stderr[-3000:]}")
    with open(result_json) as handle:
        return json.load(handle)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--expid", required=True)
    parser.add_argument("--data-root")
    parser.add_argument("--nproc", default="1,2", help="process counts to compare")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--gpu", type=int, default=-1, help="-1: CPU (gloo); 0: one GPU per process (NCCL)")
    parser.add_argument("--out", help="write the markdown table here")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.nproc.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        config = write_config(args.config, args.expid, args.epochs, os.path.join(scratch, "config"))
        results = {n: run(args, config, n, scratch) for n in counts}
    import torch
    from fuxictr_ssr.records import cpu_name, publish_report
    gpu = torch.cuda.get_device_name(0) if args.gpu >= 0 else "none"
    reference = results[counts[0]]["samples_per_s"]
    lines = [f"## {args.expid}: {args.epochs} epochs, global batch as configured", "",
             f"Machine: {cpu_name()}, {os.cpu_count()} cores; GPU: {gpu}; "
             f"torch {torch.__version__}; torchrun sets 1 thread per process when it starts several.  ",
             f"Command: `python benchmarks/distributed.py {' '.join(sys.argv[1:] if argv is None else argv)}`", "",
             "| processes | device | train samples/s | speed-up | efficiency | train s | test AUC |",
             "|---|---|---|---|---|---|---|"]
    for n, r in results.items():
        speedup = r["samples_per_s"] / reference
        lines.append(f"| {n} | {r['device']} | {r['samples_per_s']:,.0f} | {speedup:.2f} | {speedup * counts[0] / n:.2f} | "
                     f"{r['train_time_s']:.1f} | {r['test']['AUC']:.6f} |")
    publish_report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()

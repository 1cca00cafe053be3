"""What a full leaderboard costs on this machine: for each standard BARS dataset, every experiment of
its ``benchmark_configs/`` folder is built at the dataset's fields, embedding size and batch size,
its training step (FuxiCTR's ``train_step``: forward, loss with the regulariser, backward, clipping,
Adam) and its evaluation forward are timed, and the hours of one run follow from the dataset's rows
and the epochs BARS's DNN run took on it:

    hours = epochs x (train rows / train samples/s + valid rows / eval samples/s)
            + (valid rows + test rows) / eval samples/s        # the final evaluation

    python benchmarks/leaderboard_cost.py --out results/leaderboard_cost.md
    python benchmarks/leaderboard_cost.py --quick --datasets Frappe_x1     # smoke run

Capped, and said in the report: every experiment is given the DNN's epochs (BARS ran no SSR); the
embedding tables hold each dataset's real vocabulary where this project knows it (Frappe_x1: its
built feature map, passed with ``--vocab Frappe_x1=PATH``; Criteo_x4_001: the full-size rehearsal
build) and 100 ids per field elsewhere, where the dense protocol's table cost is then not counted
(``results/embedding_tables.md`` gives it at 804k ids); sequence fields are timed as categorical.
"""
import argparse
import json
import os
import sys
import time
from collections import OrderedDict

import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

BARS = "https://github.com/reczoo/BARS/tree/main/ranking/ctr/DNN/"
# rows (train, valid, test) and the epochs of BARS's DNN run (its log's "Early stopping at epoch")
DATASETS = OrderedDict([
    ("Criteo_x1", ((33_003_326, 8_250_124, 4_587_167), 18, "DNN_criteo_x1")),
    ("Avazu_x1", ((28_300_276, 4_042_897, 8_085_794), 7, "DNN_avazu_x1")),
    ("Criteo_x4_001", ((36_672_493, 4_584_062, 4_584_062), 12, "DNN_criteo_x4_001")),
    ("Avazu_x4_001", ((32_343_172, 4_042_897, 4_042_898), 3, "DNN_avazu_x4_001")),
    ("KKBox_x1", ((5_901_932, 737_743, 737_743), 29, "DNN_kkbox_x1")),
    ("MovielensLatest_x1", ((1_404_801, 401_372, 200_686), 19, "DNN_movielenslatest_x1")),
    ("Frappe_x1", ((202_027, 57_722, 28_860), 16, "DNN_frappe_x1")),
])
SMALL_IDS = 100
SEEDS = 5
FAMILIES = ("DNN", "SSR_D", "SSR_S")


def fields(config_dir, dataset_id):
    """``{name: type}`` of the dataset block's active features (sequence timed as categorical)."""
    from fuxictr_ssr.config import load_dataset_block
    found = OrderedDict()
    for column in load_dataset_block(config_dir, dataset_id)["feature_cols"]:
        if column.get("active", True) is False:
            continue
        names = column["name"] if isinstance(column["name"], list) else [column["name"]]
        for name in names:
            found[name] = "numeric" if column["type"] == "numeric" else "categorical"
    return found


def feature_map(dataset_id, types, vocab):
    from fuxictr.features import FeatureMap
    fmap = FeatureMap(dataset_id, data_dir="unused")
    fmap.features = OrderedDict(
        (name, {"source": "", "type": "numeric"} if kind == "numeric" else
         {"source": "", "type": "categorical", "padding_idx": 0, "vocab_size": vocab.get(name, SMALL_IDS)})
        for name, kind in types.items())
    fmap.labels = ["label"]
    fmap.num_fields = len(types)
    fmap.set_column_index()
    return fmap


def batch(fmap, size):
    generator = torch.Generator().manual_seed(0)
    data = {name: (torch.rand(size, generator=generator) if spec["type"] == "numeric"
                   else torch.randint(1, spec["vocab_size"], (size,), generator=generator))
            for name, spec in fmap.features.items()}
    data["label"] = torch.randint(0, 2, (size,), generator=generator).float()
    return data


def seconds_per_call(call, repetitions):
    call()  # warm-up
    start = time.perf_counter()
    for _ in range(repetitions):
        call()
    return (time.perf_counter() - start) / repetitions


def rates(params, fmap, steps):
    """``(train samples/s, eval samples/s)`` of the experiment at its batch size."""
    from fuxictr_ssr.registry import create_model
    torch.manual_seed(0)
    model = create_model({**params, "model_root": "unused", "gpu": -1}, fmap)
    model._max_gradient_norm = params.get("max_gradient_norm", 10.0)
    data = batch(fmap, params["batch_size"])
    model.train()
    train_s = seconds_per_call(lambda: model.train_step(data), steps)
    model.eval()
    with torch.no_grad():
        eval_s = seconds_per_call(lambda: model(data), steps)
    return params["batch_size"] / train_s, params["batch_size"] / eval_s


def run_hours(rows, epochs, train_rate, eval_rate):
    train, valid, test = rows
    return (epochs * (train / train_rate + valid / eval_rate) + (valid + test) / eval_rate) / 3600


def known_vocab(name, given):
    """Per-field vocabulary sizes where known: ``--vocab NAME=feature_map.json`` or, for
    Criteo_x4_001, the largest build of the rehearsal."""
    if name in given:
        with open(given[name]) as handle:
            features = json.load(handle)["features"]
        if isinstance(features, list):  # fuxictr writes [{name: spec}, ...]
            features = {field: spec for item in features for field, spec in item.items()}
        return {field: spec["vocab_size"] for field, spec in features.items() if "vocab_size" in spec}, given[name]
    if name == "Criteo_x4_001":
        from embedding_tables import rehearsal_vocabulary
        source = os.path.join(REPO_ROOT, "results", "scale_rehearsal", "rehearsal.csv")
        vocab, rows = rehearsal_vocabulary(source)
        return vocab, f"the {rows:,}-row rehearsal build"
    return {}, None


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--vocab", action="append", default=[], metavar="DATASET=FEATURE_MAP_JSON",
                        help="a built feature_map.json giving a dataset's real vocabulary sizes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per experiment (after one warm-up)")
    parser.add_argument("--quick", action="store_true", help="DNN, SSR-D and SSR-S only, batch 256, one step")
    parser.add_argument("--out", help="also write the markdown report here")
    args = parser.parse_args(argv)
    args.datasets = args.datasets.split(",")
    unknown = [d for d in args.datasets if d not in DATASETS]
    if unknown:
        parser.error(f"--datasets: unknown {', '.join(unknown)}; expected some of {', '.join(DATASETS)}")
    args.vocab = dict(item.split("=", 1) for item in args.vocab)
    for name, path in args.vocab.items():
        if name not in DATASETS or not os.path.isfile(path):
            parser.error(f"--vocab {name}={path}: expected a dataset of {', '.join(DATASETS)} and an existing file")
    return args


def measure(name, args):
    from fuxictr_ssr.config import load_params
    from fuxictr_ssr.experiment import list_expids
    folder = os.path.join(REPO_ROOT, "benchmark_configs", name)
    (rows, epochs, dnn_expid), expids = DATASETS[name], list_expids(folder)
    if args.quick:
        expids = [e for e in expids if e.split("_")[0] == "DNN" and "_wide" not in e and "_deep" not in e
                  or e.startswith(("SSR_D_", "SSR_S_")) and e.count("_") == dnn_expid.count("_") + 1]
    vocab, vocab_source = known_vocab(name, args.vocab)
    hours = OrderedDict()
    for expid in expids:
        params = load_params(folder, expid)
        if args.quick:
            params["batch_size"] = 256
        fmap = feature_map(params["dataset_id"], fields(folder, params["dataset_id"]), vocab)
        train_rate, eval_rate = rates(params, fmap, 1 if args.quick else args.steps)
        hours[expid] = (run_hours(rows, epochs, train_rate, eval_rate), train_rate, eval_rate)
        print(f"{name} {expid}: {train_rate:,.0f} train / {eval_rate:,.0f} eval samples/s, "
              f"{hours[expid][0]:.2f} h per run", flush=True)
    ids = sum(spec.get("vocab_size", 0) for spec in fmap.features.values())
    return {"rows": rows, "epochs": epochs, "dnn_expid": dnn_expid, "hours": hours, "ids": ids,
            "vocab_source": vocab_source, "batch": params["batch_size"]}


def family_hours(measured, family):
    suffix = measured["dnn_expid"][len("DNN"):]
    entry = measured["hours"].get(family + suffix)
    return f"{entry[0]:,.1f}" if entry else "-"


def render(args, argv, results):
    from fuxictr_ssr.records import cpu_name
    lines = ["# What a full leaderboard costs", "",
             f"Machine: {cpu_name()}; {os.cpu_count()} cores, {args.threads} torch thread per run; torch {torch.__version__}.  ",
             f"Command: `python benchmarks/leaderboard_cost.py {' '.join(sys.argv[1:] if argv is None else argv)}`", "",
             "Hours of one run = epochs x (train rows / train samples/s + valid rows / eval samples/s) + (valid + "
             "test rows) / eval samples/s, from each experiment's measured training step (FuxiCTR's `train_step`) "
             "and evaluation forward at its batch size. Epochs: BARS's DNN run on the dataset (its log), given to "
             f"every experiment. Leaderboard: every experiment of the `benchmark_configs/` folder x {SEEDS} seeds, "
             "one run after another. GPU: empty until measured on one.", "",
             "| dataset | train / valid / test rows | BARS epochs | embedding tables | batch | DNN h | SSR-D h | SSR-S h "
             "| 5-seed leaderboard h (experiments) | GPU h |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, measured in results.items():
        tables = (f"{measured['ids']:,} ids ({measured['vocab_source']})" if measured["vocab_source"]
                  else f"{SMALL_IDS} ids per field (table cost not counted)")
        board = SEEDS * sum(h for h, _, _ in measured["hours"].values())
        lines.append(f"| {name} | {' / '.join(f'{r:,}' for r in measured['rows'])} | [{measured['epochs']}]"
                     f"({BARS}{measured['dnn_expid']}) | {tables} | {measured['batch']:,} | "
                     + " | ".join(family_hours(measured, f) for f in FAMILIES)
                     + f" | {board:,.0f} ({len(measured['hours'])}) |  |")
    lines += ["", "Per experiment (train / eval samples/s, hours per run):", ""]
    for name, measured in results.items():
        lines.append(f"- {name}: " + "; ".join(f"{expid} {t:,.0f} / {e:,.0f}, {h:,.1f} h"
                                               for expid, (h, t, e) in measured["hours"].items()))
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    results = OrderedDict((name, measure(name, args)) for name in args.datasets)
    report = render(args, argv, results)
    print(report)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as handle:
            handle.write(report)


if __name__ == "__main__":
    main()

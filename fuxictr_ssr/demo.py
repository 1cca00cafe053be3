"""The embedded demo: SSR-D, SSR-S and a DNN on a generated CTR dataset with known structure.

The dataset has many categorical fields, most of them noise; the label depends on a few fields
and a few field pairs. Everything (data, config, checkpoints, logs) goes to one work folder.
"""
import os

import yaml

from .data import SyntheticSpec, dataset_config, generate, write_splits
from .data.synthetic import split_sizes, test_split_oracle_auc
from .predict import predict
from .runner import run_experiment

DEMO_SPEC = SyntheticSpec(num_rows=300_000, num_fields=32, num_informative=4, num_interactions=3,
                          vocab_size=40, seed=2026)
DEMO_DATASET = "ssr_demo"
TRAINING = {"batch_size": 1024, "epochs": 10, "learning_rate": 1e-3, "early_stop_patience": 2,
            "embedding_regularizer": 1e-5, "embedding_dim": 8, "verbose": 0, "log_to_console": "epochs", "monitor": "AUC",
            "monitor_mode": "max", "seed": 2021}
DEMO_MODELS = {
    "SSR_D_demo": {"model": "SSR", "filter_type": "ics", "num_views": [4, 4], "view_dims": [64, 64],
                   "fusion_layers": 1, "ics_iterations": 5, "embedding_norm": "batch_norm"},
    "SSR_S_demo": {"model": "SSR", "filter_type": "static", "num_views": [8, 8], "view_dims": [64, 64],
                   "fusion_layers": 2, "ics_iterations": 0, "embedding_norm": "batch_norm"},
    "DNN_demo": {"model": "DNN", "hidden_units": [256, 256, 256], "batch_norm": True, "net_dropout": 0.1},
}


def write_demo_config(work_dir, spec=DEMO_SPEC):
    """Write the demo's data and FuxiCTR config folder under ``work_dir``; return the config dir."""
    data_dir = os.path.join(work_dir, "data", DEMO_DATASET + "_csv")
    write_splits(spec, data_dir)
    config_dir = os.path.join(work_dir, "config")
    os.makedirs(config_dir, exist_ok=True)
    with open(os.path.join(config_dir, "dataset_config.yaml"), "w") as handle:
        yaml.safe_dump(dataset_config(spec, DEMO_DATASET, data_dir, os.path.join(work_dir, "data")), handle)
    models = {"Base": {**TRAINING, "model_root": os.path.join(work_dir, "checkpoints")}}
    models.update({expid: {**block, "dataset_id": DEMO_DATASET} for expid, block in DEMO_MODELS.items()})
    with open(os.path.join(config_dir, "model_config.yaml"), "w") as handle:
        yaml.safe_dump(models, handle, sort_keys=False)
    return config_dir


def oracle_test_auc(spec=DEMO_SPEC):
    """Test AUC of ranking by the generator's noise-free click probability (Bayes-optimal: the
    best any model can reach on this split)."""
    frame, truth = generate(spec)
    return test_split_oracle_auc(frame, truth["click_probability"])


def run_demo(work_dir, expids=None, spec=DEMO_SPEC):
    """Train the demo models; return their result dicts (see :func:`run_experiment`)."""
    config_dir = write_demo_config(work_dir, spec)
    expids = list(expids or DEMO_MODELS)
    results = []
    for number, expid in enumerate(expids, start=1):
        log = os.path.join(work_dir, "checkpoints", DEMO_DATASET, expid + ".log")
        print(f"[{number}/{len(expids)}] training {expid} (log: {log})", flush=True)
        result = run_experiment(config_dir, expid, gpu=-1, result_csv=os.path.join(work_dir, "results.csv"))
        print(f"    test AUC {result['test']['AUC']:.4f} ({result['train_time_s']:.0f} s)", flush=True)
        results.append(result)
    return results


def score_test_split(work_dir, result):
    """Score the demo's test csv with ``result``'s checkpoint, as ``fuxictr-ssr predict`` does (the
    raw rows through the fitted processor); return the line the demo ends with."""
    config_dir, test_csv = os.path.join(work_dir, "config"), os.path.join(work_dir, "data", DEMO_DATASET + "_csv", "test.csv")
    out = os.path.join(work_dir, f"scores_{result['expid']}.csv")
    summary = predict(config_dir, result["expid"], [test_csv], out, evaluate=True)
    config_dir, test_csv, out = (os.path.relpath(path) for path in (config_dir, test_csv, out))
    return (f"Scored {summary['rows']:,} raw test rows with {result['expid']}'s checkpoint into {out}: AUC "
            f"{summary['metrics']['AUC']:.4f} (its run logged {result['test']['AUC']:.4f}); the command: fuxictr-ssr "
            f"predict --config {config_dir} --expid {result['expid']} --data {test_csv} --out {out}")


def format_table(results, oracle_auc):
    rows = [f"{'expid':<12} {'model':<6} {'test AUC':>9} {'logloss':>9} {'non-emb params':>15} {'train s':>8}"]
    for r in results:
        rows.append(f"{r['expid']:<12} {r['model']:<6} {r['test']['AUC']:>9.4f} {r['test']['logloss']:>9.4f} "
                    f"{r['params_non_embedding']:>15,d} {r['train_time_s']:>8.1f}")
    rows.append(f"{'oracle':<12} {'-':<6} {oracle_auc:>9.4f} {'-':>9} {'-':>15} {'-':>8}")
    return "\n".join(rows)


def describe(spec=DEMO_SPEC):
    _, truth = generate(spec)
    pairs = ", ".join("x".join(pair) for pair in truth["interacting_pairs"])
    n_train, n_valid, n_test = split_sizes(spec.num_rows)
    return (f"{spec.num_fields} categorical fields ({spec.vocab_size} values each), "
            f"{n_train:,}/{n_valid:,}/{n_test:,} train/valid/test rows, seed {spec.seed}; "
            f"signal in {', '.join(truth['informative_fields'])} and pairs {pairs}; the other fields are noise")

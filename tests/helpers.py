"""Building blocks shared by the tests: feature maps and config folders made on the fly."""
import contextlib
import io
import os
import subprocess
from importlib.metadata import version
from collections import OrderedDict

import pytest
import torch
import yaml
from fuxictr.features import FeatureMap

from fuxictr_ssr import cli
from fuxictr_ssr.data import SyntheticSpec, dataset_config, write_splits
from fuxictr_ssr.layers import feature_major_supported


def fuxictr_version():
    return version("fuxictr")


# ssr_layout: feature_major is refused on torch 2.1 (its GELU gradient; see layers/ssr_stack.py)
needs_feature_major = pytest.mark.skipif(not feature_major_supported(), reason=(
    f"torch {torch.__version__}: ssr_layout feature_major needs torch >= 2.2"))


def categorical_feature_map(num_fields=12, vocab_size=22, dataset_id="generated"):
    """A fuxictr FeatureMap of categorical fields, as the feature processor would write it."""
    feature_map = FeatureMap(dataset_id, data_dir="unused")
    feature_map.features = OrderedDict(
        (f"f{i:02d}", {"source": "", "type": "categorical", "padding_idx": 0, "vocab_size": vocab_size})
        for i in range(1, num_fields + 1))
    feature_map.labels = ["label"]
    feature_map.num_fields = num_fields
    feature_map.set_column_index()
    return feature_map


def write_config(config_dir, dataset_block, experiments, base=None):
    os.makedirs(config_dir, exist_ok=True)
    with open(os.path.join(config_dir, "dataset_config.yaml"), "w") as handle:
        yaml.safe_dump(dataset_block, handle)
    with open(os.path.join(config_dir, "model_config.yaml"), "w") as handle:
        yaml.safe_dump({"Base": base or {}, **experiments}, handle, sort_keys=False)
    return str(config_dir)


def generated_experiment(tmp_path, experiments, spec=None, base=None):
    """Write a generated dataset and a config folder with ``experiments``; return the config dir."""
    spec = spec or SyntheticSpec(num_rows=12000, num_fields=10, num_informative=3,
                                 num_interactions=1, vocab_size=10, seed=7)
    data_dir = os.path.join(tmp_path, "data", "gen_csv")
    write_splits(spec, data_dir)
    block = dataset_config(spec, "gen", data_dir, os.path.join(tmp_path, "data"))
    defaults = {"model_root": os.path.join(tmp_path, "checkpoints"), "verbose": 0, "epochs": 3,
                "batch_size": 256, "embedding_dim": 8, "seed": 2021}
    return write_config(os.path.join(tmp_path, "config"), block,
                        {k: {"dataset_id": "gen", **v} for k, v in experiments.items()},
                        base={**defaults, **(base or {})})


def run_cli(folder, *args):
    """The command line in this process (``cli.main``) in ``folder``: what it printed and its exit
    code, as a finished process reports them; torch's thread count is restored after."""
    out, err, threads, cwd = io.StringIO(), io.StringIO(), torch.get_num_threads(), os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as stop:  # argparse's usage errors
                code = stop.code
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


MIXED_FEATURES = [
    {"name": ["c1", "c2", "c3"], "active": True, "dtype": "str", "type": "categorical"},
    {"name": "n1", "active": True, "dtype": "float", "type": "numeric", "normalizer": "StandardScaler"},
    {"name": "n2", "active": True, "dtype": "float", "type": "numeric", "normalizer": "MinMaxScaler"},
    {"name": "n3", "active": True, "dtype": "float", "type": "numeric"},
    {"name": "tags", "active": True, "dtype": "str", "type": "sequence", "splitter": "^", "max_len": 4,
     "feature_encoder": "layers.MaskedAveragePooling()"},
]


def write_mixed_splits(folder, rows=(2400, 400, 400), seed=3):
    """Generated raw csv splits with every input kind a served model takes: categorical ids,
    numerics under each normaliser (and none), and a '^'-separated sequence; the label depends on
    all of them. Returns the dataset block's feature and label columns."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for split, count in zip(("train", "valid", "test"), rows):
        c = rng.integers(0, 12, size=(count, 3))
        n = rng.normal(size=(count, 3)) * [3.0, 10.0, 1.0] + [5.0, 50.0, 0.0]
        lengths = rng.integers(1, 6, size=count)
        tags = ["^".join(f"t{t}" for t in rng.integers(0, 9, size=length)) for length in lengths]
        logit = (c[:, 0] % 3 - 1) + 0.4 * (n[:, 0] - 5) / 3 - 0.05 * (n[:, 1] - 50) / 10 + (lengths > 3) - 0.3
        frame = pd.DataFrame({"row_id": np.arange(count), **{f"c{i + 1}": [f"v{v}" for v in c[:, i]] for i in range(3)},
                              "n1": n[:, 0], "n2": n[:, 1], "n3": n[:, 2], "tags": tags,
                              "label": (rng.random(count) < 1 / (1 + np.exp(-logit))).astype(int)})
        frame.loc[rng.random(count) < 0.05, "n3"] = np.nan  # missing numerics take fill_na
        frame.to_csv(os.path.join(folder, f"{split}.csv"), index=False)
    return {"feature_cols": MIXED_FEATURES, "label_col": {"name": "label", "dtype": "float"}}


def generated_experiment_folder(root):
    """A config folder over :func:`write_mixed_splits` with ``DNN_mixed`` and ``SSR_mixed``, both
    trained once (2 epochs, seed 2021): ``(folder, {expid: the run's result dict})``."""
    import json
    data = os.path.join(root, "data", "mixed")
    block = {"data_root": os.path.join(root, "data"), "data_format": "h5", "min_categr_count": 1,
             **{f"{s}_data": os.path.join(data, f"{s}.csv") for s in ("train", "valid", "test")},
             **write_mixed_splits(data)}
    base = {"model_root": os.path.join(root, "checkpoints"), "verbose": 0, "epochs": 2, "batch_size": 128,
            "embedding_dim": 4, "seed": 2021, "dataset_id": "mixed", "metrics": ["logloss", "AUC"],
            "monitor": "AUC", "learning_rate": 3.0e-3}
    folder = write_config(os.path.join(root, "config"), {"mixed": block},
                          {"DNN_mixed": {"model": "DNN", "hidden_units": [32, 16]},
                           "SSR_mixed": {"model": "SSR", "filter_type": "ics", "num_views": [2, 2],
                                         "view_dims": [8, 8]}}, base=base)
    results = {}
    for expid in ("DNN_mixed", "SSR_mixed"):
        result_json = os.path.join(root, f"{expid}.json")
        done = run_cli(root, "run", "--config", folder, "--expid", expid, "--result-json", result_json)
        assert done.returncode == 0, done.stderr[-2000:]
        with open(result_json) as handle:
            results[expid] = json.load(handle)
    return folder, results

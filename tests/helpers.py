"""Building blocks shared by the tests: feature maps and config folders made on the fly."""
import contextlib
import io
import os
import subprocess
from collections import OrderedDict

import torch
import yaml
from fuxictr.features import FeatureMap

from fuxictr_ssr import cli
from fuxictr_ssr.data import SyntheticSpec, dataset_config, write_splits


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

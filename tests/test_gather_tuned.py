"""benchmarks/gather_tuned.py: a benchmark's experiments and tune's chosen points in one config
folder, with the rows that ran them, so a tuned board is ranked without training."""
import csv
import importlib.util
import os

import pytest

from fuxictr_ssr.bench import current_fingerprints
from fuxictr_ssr.config import load_dataset_block, read_yaml
from fuxictr_ssr.records import read_results

from helpers import write_config

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "gather_tuned.py")
spec = importlib.util.spec_from_file_location("gather_tuned", SCRIPT)
gather_tuned = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gather_tuned)

DATASET = {"toy": {"data_root": "./data/", "data_format": "csv", "train_data": "t.csv", "valid_data": "v.csv",
                   "test_data": "s.csv", "label_col": {"name": "label", "dtype": "float"}}}
BASE = {"epochs": 5, "batch_size": 64, "embedding_regularizer": 0.01, "dataset_id": "toy"}


def write_rows(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["expid", "seed", "config_hash", "test_AUC"])
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def folders(tmp_path):
    bench = write_config(tmp_path / "benchmark_configs" / "toy", DATASET,
                         {"DNN_toy": {"model": "DNN", "hidden_units": [8], "tuning": "BARS-tuned"},
                          "SSR_D_paper_toy": {"model": "SSR", "preset": "SSR_D_paper"}}, base=BASE)
    tuned = tmp_path / "results" / "tuned"
    write_config(tuned / "SSR_S" / "chosen", DATASET,
                 {"SSR_S_toy_tuned": {**BASE, "model": "SSR", "ssr_variant": "S", "tuning": "tuned: 12 trials"}})
    write_rows(str(tmp_path / "results" / "toy" / "results.csv"),
               [{"expid": "DNN_toy", "seed": 1, "config_hash": "a", "test_AUC": 0.7},
                {"expid": "SSR_D_paper_toy", "seed": 1, "config_hash": "b", "test_AUC": 0.6}])
    for seed in (1, 2):
        write_rows(str(tuned / "SSR_S" / f"final_{seed}" / "results.csv"),
                   [{"expid": "SSR_S_toy_tuned", "seed": seed, "config_hash": "c", "test_AUC": 0.8}])
    return str(bench), str(tuned), str(tmp_path / "experiments" / "toy" / "tuned"), str(tmp_path / "results" / "toy")


def test_blocks_keep_their_fingerprints_labels_and_the_dataset_by_reference(folders):
    bench, tuned, out, bench_results = folders
    assert gather_tuned.gather(bench, tuned, out, bench_results) == (3, 4)
    blocks = read_yaml(os.path.join(out, "model_config.yaml"))
    assert list(blocks) == ["Base", "DNN_toy", "SSR_D_paper_toy", "SSR_S_toy_tuned"]
    assert [blocks[e]["tuning"] for e in list(blocks)[1:]] == ["BARS-tuned", "untuned", "tuned: 12 trials"]
    assert blocks["SSR_D_paper_toy"]["preset"] == "SSR_D_paper"  # the preset stays a preset
    # the rows stay current: every gathered block has the fingerprint of the block it came from
    gathered = current_fingerprints(out, list(blocks)[1:])
    assert {e: gathered[e] for e in ("DNN_toy", "SSR_D_paper_toy")} == current_fingerprints(
        bench, ["DNN_toy", "SSR_D_paper_toy"])
    assert gathered["SSR_S_toy_tuned"] == current_fingerprints(os.path.join(tuned, "SSR_S", "chosen"),
                                                               ["SSR_S_toy_tuned"])["SSR_S_toy_tuned"]
    assert load_dataset_block(out, "toy")["train_data"] == "t.csv"
    rows = read_results(os.path.join(tuned, "results.csv"))
    assert [(r["expid"], r["seed"]) for r in rows] == [("DNN_toy", "1"), ("SSR_D_paper_toy", "1"),
                                                       ("SSR_S_toy_tuned", "1"), ("SSR_S_toy_tuned", "2")]


def test_a_subset_of_the_benchmark_and_errors_name_what_is_wrong(folders, tmp_path):
    bench, tuned, out, bench_results = folders
    assert gather_tuned.gather(bench, tuned, out, bench_results, ["DNN_toy"]) == (2, 4)
    with pytest.raises(ValueError, match="--benchmark-expids: DCN_toy not in"):
        gather_tuned.gather(bench, tuned, out, bench_results, ["DCN_toy"])
    with pytest.raises(ValueError, match="--tuned: no <model>/chosen folder"):
        gather_tuned.gather(bench, str(tmp_path / "nothing"), out, bench_results)

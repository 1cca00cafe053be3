import os
import shutil
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def copy_zoo(root):
    """Copy model_zoo/SSR and data/tiny_synthetic under ``root`` with the repo's relative layout."""
    shutil.copytree(os.path.join(REPO_ROOT, "model_zoo", "SSR"), root / "model_zoo" / "SSR",
                    ignore=shutil.ignore_patterns("checkpoints", "*.csv"))
    source = os.path.join(REPO_ROOT, "data", "tiny_synthetic")
    (root / "data" / "tiny_synthetic").mkdir(parents=True)
    for name in ("train.csv", "valid.csv", "test.csv"):
        shutil.copy(os.path.join(source, name), root / "data" / "tiny_synthetic" / name)
    return root


@pytest.fixture
def zoo_copy(tmp_path):
    """A copy of model_zoo/SSR and data/tiny_synthetic with the repo's relative layout."""
    return copy_zoo(tmp_path)


@pytest.fixture(scope="module")
def trained_zoo(tmp_path_factory):
    """model_zoo/SSR (in a copy as :func:`zoo_copy`) after one run of ``SSR_test``: its checkpoint
    and h5 store, trained once for the module's tests that only read them."""
    from helpers import run_cli
    zoo = copy_zoo(tmp_path_factory.mktemp("trained")) / "model_zoo" / "SSR"
    done = run_cli(zoo, "run", "--expid", "SSR_test")
    assert done.returncode == 0, done.stderr[-2000:]
    return zoo


@pytest.fixture(scope="session")
def mixed_trained(tmp_path_factory):
    """A config folder over :func:`helpers.write_mixed_splits` (categorical, numeric and sequence
    inputs) with a DNN and an SSR-D trained on it once (2 epochs): ``(folder, {expid: result})``."""
    from helpers import generated_experiment_folder
    return generated_experiment_folder(tmp_path_factory.mktemp("mixed"))

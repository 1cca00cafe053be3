import os
import shutil
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def zoo_copy(tmp_path):
    """A copy of model_zoo/SSR and data/tiny_synthetic with the repo's relative layout."""
    shutil.copytree(os.path.join(REPO_ROOT, "model_zoo", "SSR"), tmp_path / "model_zoo" / "SSR",
                    ignore=shutil.ignore_patterns("checkpoints", "*.csv"))
    source = os.path.join(REPO_ROOT, "data", "tiny_synthetic")
    (tmp_path / "data" / "tiny_synthetic").mkdir(parents=True)
    for name in ("train.csv", "valid.csv", "test.csv"):
        shutil.copy(os.path.join(source, name), tmp_path / "data" / "tiny_synthetic" / name)
    return tmp_path

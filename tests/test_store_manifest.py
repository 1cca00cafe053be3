"""A stored dataset is reused only while its raw files are the same content: a replaced file with
the same size and mtime is rebuilt, a moved data folder is not, a store without a manifest is used
with a warning, and damaged JSON is named."""
import json
import logging
import os
import shutil

import pytest

from fuxictr_ssr.data import SyntheticSpec
from fuxictr_ssr.data.manifest import MANIFEST_FILE
from fuxictr_ssr.experiment import Experiment
from helpers import generated_experiment

SPEC = SyntheticSpec(num_rows=1200, num_fields=4, num_informative=2, num_interactions=1, vocab_size=6, seed=5)


def plan(config, data_root=None):
    return Experiment.load(config, "DNN_gen", data_root=data_root).data


@pytest.fixture
def built(tmp_path):
    config = generated_experiment(tmp_path, {"DNN_gen": {"model": "DNN", "hidden_units": [8]}}, spec=SPEC,
                                  base={"data_format": "h5"})
    data = plan(config)
    data.prepare()
    assert not data.needs_build()
    return config, data, tmp_path


def test_a_replaced_file_with_the_same_size_and_mtime_is_rebuilt(built):
    _, data, _ = built
    path = data.given["train_data"]
    stat = os.stat(path)
    lines = open(path).read().splitlines(keepends=True)
    lines[1], lines[-1] = lines[-1], lines[1]  # the same bytes in another order: same size
    open(path, "w").write("".join(lines))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # cp -p / rsync -a keep the mtime
    assert os.path.getsize(path) == stat.st_size
    assert data.stale_split(data.raw_files()) == "train_data"


def test_a_moved_data_folder_is_not_rebuilt(built):
    config, data, tmp_path = built
    shutil.copytree(tmp_path / "data", tmp_path / "moved")
    moved = plan(config, data_root=str(tmp_path / "moved"))
    assert moved.folder.startswith(str(tmp_path / "moved")) and not moved.needs_build()


def test_a_store_without_its_manifest_is_used_with_a_warning(built, caplog):
    _, data, _ = built
    os.remove(os.path.join(data.folder, MANIFEST_FILE))
    with caplog.at_level(logging.WARNING):
        data.prepare()
    assert "has no raw_sources.json (built by FuxiCTR or an older version): whether its raw files changed since " \
           "cannot be checked" in caplog.text
    assert not data.needs_build()


def test_a_manifest_of_the_older_form_that_matches_is_upgraded(built):
    _, data, _ = built
    older = {key: [[os.path.abspath(p), os.path.getsize(p), os.stat(p).st_mtime_ns] for p in paths]
             for key, paths in data.raw_files().items()}
    json.dump(older, open(os.path.join(data.folder, MANIFEST_FILE), "w"))
    assert not data.needs_build()
    upgraded = json.load(open(os.path.join(data.folder, MANIFEST_FILE)))
    assert upgraded["train_data"][0][0] == os.path.join("gen_csv", "train.csv") and len(upgraded["train_data"][0][2]) == 32


@pytest.mark.parametrize("name", [MANIFEST_FILE, "feature_map.json"])
def test_damaged_json_in_the_store_is_named(built, name):
    _, data, _ = built
    path = os.path.join(data.folder, name)
    open(path, "w").write('{"train_data": [')
    with pytest.raises(ValueError, match=rf"{name}: not valid JSON .*delete it"):
        data.prepare()

"""Every benchmark folder loads, every experiment builds against a feature map made from its
dataset config, and SSR, RankMixer and WuKong sit within 1.5x of DCNv2's non-embedding parameters
(the suite's claim)."""
import glob
import os

import pytest

from fuxictr_ssr.experiment import list_expids
from fuxictr_ssr.config import check_data_params, check_training_params, load_params
from fuxictr_ssr.models.checked_model import count_parameters
from fuxictr_ssr.registry import create_model, get_model_class

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_ROOT = os.path.join(REPO_ROOT, "benchmark_configs")
FOLDERS = sorted(name for name in os.listdir(BENCH_ROOT) if os.path.isdir(os.path.join(BENCH_ROOT, name)))
STUDIES = sorted(os.path.relpath(os.path.dirname(path), REPO_ROOT)
                 for path in glob.glob(os.path.join(REPO_ROOT, "experiments", "*", "*", "model_config.yaml")))
EXPECTED_FOLDERS = ["Avazu_paper", "Avazu_x1", "Avazu_x4_001", "CriteoLike_synthetic", "Criteo_paper", "Criteo_x1",
                    "Criteo_x4_001", "Frappe_x1", "KKBox_x1", "MovieLens100K", "MovielensLatest_x1"]
EXPIDS = [(os.path.join("benchmark_configs", folder), expid) for folder in FOLDERS
          for expid in list_expids(os.path.join(BENCH_ROOT, folder))]
EXPIDS += [(folder, expid) for folder in STUDIES for expid in list_expids(os.path.join(REPO_ROOT, folder))]


def build(folder, expid, tmp_path):
    params = {**load_params(os.path.join(REPO_ROOT, folder), expid), "model_root": str(tmp_path)}
    return params, count_parameters(create_model(params))[1]


def test_suite_has_every_dataset_the_nine_experiments_and_the_ssr_presets():
    assert FOLDERS == EXPECTED_FOLDERS
    for folder in FOLDERS:
        dataset_id = folder.lower()
        kinds = [expid[: -len(dataset_id) - 1] for expid in list_expids(os.path.join(BENCH_ROOT, folder))]
        assert kinds == ["DNN", "DNN_wide", "DNN_deep", "DeepFM", "DCNv2", "SSR_D", "SSR_S", "RankMixer",
                         "WuKong", "SSR_D_paper", "SSR_D_repo", "SSR_S_repo", "SSR_D_text"], folder


@pytest.mark.parametrize("folder,expid", EXPIDS, ids=[f"{f}-{e}" for f, e in EXPIDS])
def test_experiment_builds(folder, expid, tmp_path):
    params, non_embedding = build(folder, expid, tmp_path)
    check_training_params(params)
    check_data_params(params)
    get_model_class(params["model"]).check_params(params)
    assert non_embedding > 0


@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS)
def test_ssr_budget_is_near_dcnv2(folder, tmp_path):
    dataset_id = folder.lower()
    folder_path = os.path.join("benchmark_configs", folder)
    _, dcnv2 = build(folder_path, f"DCNv2_{dataset_id}", tmp_path)
    for variant in ("SSR_D", "SSR_S", "RankMixer", "WuKong"):
        _, ssr = build(folder_path, f"{variant}_{dataset_id}", tmp_path)
        assert 1 / 1.5 <= ssr / dcnv2 <= 1.5, (folder, variant, ssr, dcnv2)

"""One experiment of a config folder, resolved once: its params (``Base``, the block, its preset,
its dataset block, the runner's defaults, the caller's overrides), its model class and its
fingerprint. The runner, ``bench``, ``tune``, ``scale`` and ``sparsity`` all resolve through here."""
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .config import (DATA_LOCATION_KEYS, DEFAULT_PARAMS, cap_epochs, check_data_params, check_training_params,
                     check_unknown_keys, config_files, load_params, read_yaml)
from .data.dataset import DataPlan, relocate_data_root
from .registry import constructor_keys, get_model_class

# Keys that say where things are, how much is printed or how a setting was chosen, not what is
# trained. data_format only
# picks the store of the encoded splits: csv -> parquet (fuxictr) and csv -> h5 (ours) hold the
# same encoding, read back in the same row order (tests/test_h5_store.py).
NOT_FINGERPRINTED = {"seed", "gpu", "model_root", "verbose", "log_to_console", "num_workers", "tuning",
                     "progress_seconds", "log_to",
                     *DATA_LOCATION_KEYS}


def config_fingerprint(params):
    """Short hash of everything in ``params`` that can change a run's result except the seed.

    A results row counts as done only while its experiment's config still has this hash, so an
    edited config is re-run rather than answered from stale rows.
    """
    relevant = {k: v for k, v in params.items() if k not in NOT_FINGERPRINTED}
    if relevant.get("batch_norm") is True:
        # A hidden-layer BatchNorm trained with torch's running averages until batch_norm_warm_start
        # (default true) existed: the warm start gets into the hash, and `false`, which trains as
        # those rows did, keeps the hash they have.
        if relevant.pop("batch_norm_warm_start", True):
            relevant["batch_norm_warm_start"] = True
    return hashlib.sha1(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:12]


def resolve(config_dir, expid, overrides=None, data_root=None, max_epochs=None):
    """An experiment's params as a run sees them, unchecked: the runner's defaults, the config
    (preset expanded), ``overrides``, ``epochs`` capped at ``max_epochs``, the dataset moved to
    ``data_root`` (see :func:`fuxictr_ssr.data.dataset.relocate_data_root`)."""
    params = {**DEFAULT_PARAMS, **load_params(config_dir, expid), **(overrides or {})}
    if max_epochs is not None:
        params["epochs"] = cap_epochs(params["epochs"], max_epochs)
    if data_root:
        check_data_params(params)
        relocate_data_root(params, data_root)
    return params


@dataclass
class Experiment:
    """A checked experiment: ``params`` complete, ``model_class`` found; no data read."""
    config_dir: str
    expid: str
    params: dict
    model_class: type

    @classmethod
    def load(cls, config_dir, expid, overrides=None, data_root=None, max_epochs=None, gpu=-1, check_data=True):
        """Resolve and check; raise ``ValueError`` naming the key or file of any config or
        data-path error (``check_data=False``: the config only, for reports that read no data). The model class is looked up in a ``src`` package of the current folder
        first, as FuxiCTR's ``run_expid.py`` does."""
        params = resolve(config_dir, expid, overrides, data_root, max_epochs)
        params["gpu"] = gpu
        model_class = get_model_class(params["model"], search_dir=os.getcwd())
        check_training_params(params)
        if hasattr(model_class, "check_params"):
            model_class.check_params(params)
        check_unknown_keys(params, constructor_keys(model_class))
        check_data_params(params)
        experiment = cls(config_dir, expid, params, model_class)
        if check_data:
            experiment.data.check()
        return experiment

    @functools.cached_property
    def data(self):
        """The experiment's :class:`~fuxictr_ssr.data.dataset.DataPlan`, worked out once."""
        return DataPlan(self.params)

    @property
    def default_result_csv(self):
        """FuxiCTR's result file: ``<config folder name>.csv`` in the current folder."""
        return Path(self.config_dir).name.replace(".yaml", "") + ".csv"


def folder_name(config_dir):
    """What a config folder is called in leaderboard titles: its own name; for a FuxiCTR-style
    ``<model>/config/`` its parent's (``model_zoo/SSR/config`` -> ``SSR``); for a study
    ``experiments/<dataset>/<study>`` both (``Frappe_x1_paper``)."""
    path = Path(os.path.abspath(config_dir))
    if path.name == "config":
        return path.parent.name
    return f"{path.parent.name}_{path.name}" if path.parent.parent.name == "experiments" else path.name


def default_results_folder(config_dir, under="results"):
    """Where a config folder's results go by default: ``under`` plus the folder's path, so two
    folders never share one (``benchmark_configs/Frappe_x1`` -> ``results/Frappe_x1``,
    ``experiments/Frappe_x1/paper`` -> ``results/experiments/Frappe_x1/paper``,
    ``model_zoo/SSR/config`` -> ``results/SSR``; a config kept in its results folder,
    ``results/X/config``, -> ``results/X``). A folder outside the current one gets its name."""
    relative = os.path.relpath(os.path.abspath(config_dir))
    parts = list(Path(relative).parts)
    if relative == os.curdir or parts[0] == os.pardir:
        return os.path.join(under, folder_name(config_dir))
    if parts[-1] == "config":
        parts.pop()
    if parts and parts[0] == "results" and under == "results":
        return os.path.join(*parts)
    if parts and parts[0] in ("benchmark_configs", "model_zoo"):
        parts.pop(0)
    return os.path.join(under, *parts) if parts else os.path.join(under, folder_name(config_dir))


def list_expids(config_dir):
    """Experiment ids of a config folder, in file order (``Base`` excluded)."""
    expids = []
    for path in config_files(config_dir, "model_config"):
        expids += [key for key in read_yaml(path) if key != "Base"]
    return expids


def folders_of(config_dirs):
    """``{expid: config folder}`` over several folders; an experiment id defined in two is an error
    (its rows could not be told apart)."""
    folders = {}
    for config_dir in config_dirs:
        if not os.path.isdir(config_dir):
            raise ValueError(f"--config: config folder {config_dir!r} does not exist")
        for expid in list_expids(config_dir):
            if expid in folders:
                raise ValueError(f"--config: experiment {expid!r} is defined in both {folders[expid]} and {config_dir}")
            folders[expid] = config_dir
    return folders



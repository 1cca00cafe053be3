"""Train and evaluate one experiment of a FuxiCTR config folder, as FuxiCTR's run_expid.py does.

Order of work: load and check the config (model name, model keys, dataset block, data files) so
that every config error surfaces before anything slow; then log, seed, preprocess raw data into
``<data_root>/<dataset_id>/`` (skipped when its ``feature_map.json`` exists), train with
BaseModel's BARS protocol (monitor, lr x0.1 on plateau, early stop, best checkpoint reloaded),
evaluate valid and test, and append one result line to ``<config folder name>.csv``.
"""
import gc
import glob
import importlib
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import fuxictr
import torch

from . import __version__, distributed
from .compat import rank_data_loaders
from .config import (RAW_DATA_FORMATS, SPLIT_KEYS, check_data_params, check_training_params,
                     load_params)
from .data import ColumnarDataLoader, StreamingH5Loader
from .data.h5_store import build_h5_dataset, is_h5_path, load_feature_map
from .models.common import count_parameters
from .registry import get_model_class

DEFAULT_PARAMS = {
    "data_loader": "columnar",
    "log_to_console": True,
    "feature_processor": "fuxictr.preprocess.FeatureProcessor",
    "model_root": "./checkpoints/",
    "seed": 2021,
    "verbose": 1,
    "metrics": ["logloss", "AUC"],
    "task": "binary_classification",
    "optimizer": "adam",
    "loss": "binary_crossentropy",
    "epochs": 100,
    "batch_size": 4096,
    "shuffle": True,
    "monitor_mode": "max",
}
DATA_LOADERS = {"columnar": ColumnarDataLoader, "streaming": StreamingH5Loader, "fuxictr": None}


def _data_dir(params):
    return os.path.join(params["data_root"], params["dataset_id"])


def _feature_map_path(params):
    return os.path.join(_data_dir(params), "feature_map.json")


def _h5_store_paths(params):
    """Where the h5 build puts each split given as raw csv (None for splits given as h5)."""
    return {key: None if is_h5_path(params[key]) else os.path.join(_data_dir(params), key.split("_")[0] + ".h5")
            for key in SPLIT_KEYS if params.get(key)}


def _h5_needs_build(params):
    paths = _h5_store_paths(params)
    return not os.path.isfile(_feature_map_path(params)) or any(
        path is not None and not os.path.isfile(path) for path in paths.values())


def check_data_files(params):
    """Raise ``ValueError`` naming the first data file that is missing, and where to get it."""
    data_format = params.get("data_format", "csv")
    if data_format == "h5":
        if not _h5_needs_build(params):
            return  # stored (or given) h5 splits: the loaders check them
        if not all(_h5_store_paths(params).values()):
            raise ValueError(f"data_format h5: the h5 splits need their feature map, {_feature_map_path(params)!r} "
                             "(FuxiCTR 1.x or 2.x format), which was not found")
    elif data_format in RAW_DATA_FORMATS:
        if os.path.isfile(_feature_map_path(params)):
            return  # already preprocessed; the loader checks the processed splits
    elif not os.path.isfile(_feature_map_path(params)):
        raise ValueError(f"data_format {data_format} needs a preprocessed folder: "
                         f"{_feature_map_path(params)!r} not found")
    for key in SPLIT_KEYS:
        path = params.get(key)
        if path and not glob.glob(path):
            hint = params.get("data_source")
            raise ValueError(
                f"{key}: data file {path!r} of dataset {params['dataset_id']!r} not found"
                + (f"; get it from {hint}" if hint else "")
                + " (paths are relative to the folder the command runs in; set data paths in the dataset config)")


def setup_logging(params):
    """Log to ``<model_root>/<dataset_id>/<expid>.log`` (as FuxiCTR does) and, unless
    ``log_to_console`` is false, to the console; a quiet run also keeps Ray to warnings."""
    log_dir = os.path.join(params["model_root"], params["dataset_id"])
    os.makedirs(log_dir, exist_ok=True)
    handlers = [logging.FileHandler(os.path.join(log_dir, params["model_id"] + ".log"), mode="w")]
    if params["log_to_console"]:
        handlers.append(logging.StreamHandler())
    else:
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s P%(process)d %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    logging.info("FuxiCTR version: %s, fuxictr_ssr version: %s", fuxictr.__version__, __version__)


def relocate_data_root(params, data_root):
    """Point the dataset at ``data_root``: it replaces ``data_root`` and that prefix of the split paths."""
    old_root = os.path.normpath(params["data_root"])
    for key in SPLIT_KEYS:
        path = params.get(key)
        if path and os.path.normpath(path).startswith(old_root + os.sep):
            params[key] = os.path.join(data_root, os.path.relpath(os.path.normpath(path), old_root))
    params["data_root"] = data_root


def resolve_params(config_dir, expid, gpu=-1, overrides=None, data_root=None):
    """Load, complete and check an experiment's params; no data is read and nothing is trained.

    ``data_root`` (optional) relocates the dataset (see :func:`relocate_data_root`).
    Returns ``(params, model_class)``. Raises ``ValueError`` for any config or data-path error.
    """
    params = dict(DEFAULT_PARAMS)
    params.update(load_params(config_dir, expid))
    params.update(overrides or {})
    if data_root:
        check_data_params(params)
        relocate_data_root(params, data_root)
    params["gpu"] = gpu
    model_class = get_model_class(params["model"], search_dir=os.getcwd())
    check_training_params(params)
    if hasattr(model_class, "check_params"):
        model_class.check_params(params)
    check_data_params(params)
    if params["data_loader"] not in DATA_LOADERS:
        raise ValueError(f"data_loader: expected one of {', '.join(DATA_LOADERS)}, got {params['data_loader']!r}")
    if params["data_loader"] == "streaming" and params.get("data_format", "csv") != "h5":
        raise ValueError(f"data_loader: 'streaming' reads h5 data; data_format is {params.get('data_format', 'csv')!r}")
    _import_object(params["feature_processor"], "feature_processor")
    check_data_files(params)
    return params, model_class


def _import_object(dotted_path, key):
    module_name, _, attribute = dotted_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        raise ValueError(f"{key}: cannot import {dotted_path!r} (expected 'package.module.ClassName')") from None


def prepare_data(params):
    """Preprocess raw data (unless done before) and point the split paths at the stored splits;
    return the FeatureMap. ``data_format: h5`` stores raw csv as h5 without Ray (see
    :mod:`fuxictr_ssr.data.h5_store`); csv/parquet go through fuxictr's ``build_dataset``."""
    from fuxictr.features import FeatureMap
    from fuxictr.preprocess import build_dataset

    data_format = params.get("data_format", "csv")
    if data_format == "h5":
        if _h5_needs_build(params):
            build_h5_dataset(_make_processor(params), params)
        for key, stored in _h5_store_paths(params).items():
            params[key] = stored or params[key]
    elif data_format in RAW_DATA_FORMATS:
        params["train_data"], params["valid_data"], params["test_data"] = build_dataset(_make_processor(params), **params)
    feature_map = FeatureMap(params["dataset_id"], _data_dir(params))
    return load_feature_map(feature_map, _feature_map_path(params), params)


def _make_processor(params):
    return _import_object(params["feature_processor"], "feature_processor")(**params)


def make_loaders(feature_map, params, stage):
    loader_params = dict(params)
    loader_class = DATA_LOADERS[params["data_loader"]]
    if loader_class is None:
        loader_params.pop("data_loader")
    else:
        loader_params["data_loader"] = loader_class
    return rank_data_loaders(feature_map, stage, **loader_params)


def record_best_epoch(model):
    """Track the epoch of the checkpoint BaseModel keeps (it saves whenever validation improves)."""
    best = {"epoch": None}
    save_weights = model.save_weights

    def save_and_record(checkpoint):
        best["epoch"] = model._epoch_index + 1
        save_weights(checkpoint)

    model.save_weights = save_and_record
    return best


def format_metrics(metrics):
    return " - ".join(f"{name}: {value:.6f}" for name, value in metrics.items())


def append_result_line(result_csv, expid, dataset_id, valid_result, test_result):
    """One line in FuxiCTR's result format, appended (earlier lines are never touched)."""
    line = (f" {datetime.now().strftime('%Y%m%d-%H%M%S')},[command] python {' '.join(sys.argv)},"
            f"[exp_id] {expid},[dataset_id] {dataset_id},[train] N.A.,"
            f"[val] {format_metrics(valid_result)},[test] {format_metrics(test_result)}\n")
    with open(result_csv, "a") as handle:
        handle.write(line)


def run_experiment(config_dir, expid, gpu=-1, overrides=None, result_csv=None, data_root=None):
    """Train and evaluate ``expid`` from ``config_dir``; return a dict of what was measured.

    Args:
        config_dir: FuxiCTR config folder.
        expid: experiment id (a block of model_config.yaml).
        gpu: CUDA device index, -1 for CPU.
        overrides: params that replace the config's (e.g. ``{"seed": 7}``).
        result_csv: where to append the result line; default ``<config folder name>.csv`` in
            the current folder, as FuxiCTR does.
        data_root: relocate the dataset to this data root (see :func:`relocate_data_root`).

    Under torchrun (several processes) it trains data-parallel (see :mod:`fuxictr_ssr.distributed`);
    then only rank 0 returns the dict, the other ranks return None.
    """
    params, model_class = resolve_params(config_dir, expid, gpu, overrides, data_root)
    processes = distributed.launched_world_size()
    if processes == 1:
        return _train_and_evaluate(params, model_class, config_dir, expid, result_csv)
    if params["data_loader"] == "fuxictr":
        raise ValueError("data_loader: 'fuxictr' cannot shard data over processes; use columnar or streaming")
    params["batch_size"] = distributed.per_rank_batch_size(params["batch_size"], processes)
    params["gpu"] = distributed.init(gpu, params.get("distributed_timeout", distributed.DEFAULT_TIMEOUT_S))
    params.update(rank=distributed.rank(), world_size=processes)
    try:
        return _train_and_evaluate(params, model_class, config_dir, expid, result_csv)
    finally:
        distributed.shutdown()


def _train_and_evaluate(params, model_class, config_dir, expid, result_csv):
    from fuxictr.pytorch.torch_utils import seed_everything
    from fuxictr.utils import print_to_json

    parallel = params.get("world_size", 1) > 1
    main = distributed.is_main()
    if main:
        setup_logging(params)
    else:
        distributed.quiet_other_ranks()
        params["verbose"] = 0
    logging.info("fuxictr_ssr run: config=%s expid=%s model=%s", config_dir, expid, params["model"])
    if parallel:
        logging.info("Data parallel: %d processes, %d rows per process and step", params["world_size"],
                     params["batch_size"])
    logging.info("Params: " + print_to_json(params))
    seed_everything(seed=params["seed"])

    if parallel and not main:
        distributed.barrier()  # rank 0 preprocesses; the others then read what it wrote
    feature_map = prepare_data(params)
    if parallel and main:
        distributed.barrier()
    logging.info("Feature specs: " + print_to_json(feature_map.features))
    model = model_class(feature_map, **params)
    total_params, non_embedding_params = count_parameters(model)
    logging.info("Parameters: non-embedding %d, total %d", non_embedding_params, total_params)
    if parallel:
        distributed.make_data_parallel(model)

    train_gen, valid_gen = make_loaders(feature_map, params, "train")
    best_epoch = record_best_epoch(model)
    start = time.perf_counter()
    model.fit(train_gen, validation_data=valid_gen, **params)
    train_time = time.perf_counter() - start
    epochs_run = model._epoch_index + 1
    train_samples = train_gen.num_samples * params.get("world_size", 1)

    logging.info("****** Validation evaluation ******")
    valid_result = model.evaluate(valid_gen)
    del train_gen, valid_gen
    gc.collect()
    test_result = {}
    if params.get("test_data"):
        logging.info("******** Test evaluation ********")
        test_result = model.evaluate(make_loaders(feature_map, params, "test"))

    if not main:
        return None
    if result_csv is None:
        result_csv = Path(config_dir).name.replace(".yaml", "") + ".csv"
    append_result_line(result_csv, expid, params["dataset_id"], valid_result, test_result)
    return {
        "expid": expid, "model": params["model"], "dataset_id": params["dataset_id"],
        "seed": params["seed"], "valid": dict(valid_result), "test": dict(test_result),
        "params_total": total_params, "params_non_embedding": non_embedding_params,
        "train_time_s": train_time, "best_epoch": best_epoch["epoch"], "epochs_run": epochs_run,
        "samples_per_s": train_samples * epochs_run / train_time, "checkpoint": model.checkpoint,
        "fuxictr_version": fuxictr.__version__, "torch_version": torch.__version__,
        "device": str(model.device) + (f" x{params['world_size']}" if parallel else ""),
    }

"""Train and evaluate one experiment of a FuxiCTR config folder, as FuxiCTR's run_expid.py does.

Order of work: load and check the config (model name, model keys, dataset block, data files) so
that every config error surfaces before anything slow; then log, seed, preprocess raw data into
``<data_root>/<dataset_id>/`` (skipped when its ``feature_map.json`` exists), train with
BaseModel's BARS protocol (monitor, lr x0.1 on plateau, early stop, best checkpoint reloaded),
evaluate valid and test, and append one result line to ``<config folder name>.csv``.
"""
import contextlib
import gc
import logging
import os
import sys
import time

import fuxictr
import torch

from . import distributed
from .experiment import Experiment
from .models.checked_model import count_parameters
from .models.execution import execution_label
from .records import append_result_line
from .run_log import log_path, setup_logging
from .safe_files import check_output_path, claimed


def record_best_epoch(model):
    """Track the epoch of the checkpoint BaseModel keeps (it saves whenever validation improves)."""
    best = {"epoch": None}
    save_weights = model.save_weights

    def save_and_record(checkpoint):
        best["epoch"] = model._epoch_index + 1
        save_weights(checkpoint)

    model.save_weights = save_and_record
    return best


def run_experiment(config_dir, expid, gpu=-1, overrides=None, result_csv=None, data_root=None, max_epochs=None,
                   threads=None):
    """Train and evaluate ``expid`` from ``config_dir``; return a dict of what was measured.

    Args:
        config_dir: FuxiCTR config folder.
        expid: experiment id (a block of model_config.yaml).
        gpu: CUDA device index, -1 for CPU.
        overrides: params that replace the config's (e.g. ``{"seed": 7}``).
        result_csv: where to append the result line; default ``<config folder name>.csv`` in
            the current folder, as FuxiCTR does.
        data_root: relocate the dataset to this data root (see :mod:`fuxictr_ssr.data.dataset`).
        max_epochs: cap the config's ``epochs``.
        threads: torch's intra-op thread count (default: torch's); the run's float sums, and so its
            metrics, depend on it, so it is logged and returned.

    Under torchrun (several processes) it trains data-parallel (see :mod:`fuxictr_ssr.distributed`);
    then only rank 0 returns the dict, the other ranks return None.
    """
    experiment = Experiment.load(config_dir, expid, overrides, data_root, max_epochs, gpu)
    params = experiment.params
    result_csv = result_csv or experiment.default_result_csv
    check_output_path(result_csv, "--result-csv")
    check_output_path(params["model_root"], "model_root", is_folder=True)
    experiment.data.check_raw()
    distributed.check_gpu(gpu)
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads: expected a positive integer, got {threads}")
        cores = os.cpu_count() or 1
        if threads > cores:
            print(f"warning: --threads {threads} is more than this machine's {cores} cores; using {cores}",
                  file=sys.stderr)
            threads = cores
        torch.set_num_threads(threads)
    # Two runs of one expid under one model_root would write one checkpoint and log; the second is
    # refused before it starts. The log is the lock (no extra file); under torchrun rank 0 alone
    # writes, so it alone claims.
    run_files = f"model_root {params['model_root']!r}, expid {expid!r} (its checkpoint and log)"
    lock = claimed(log_path(params), run_files) if distributed.launched_rank() == 0 else contextlib.nullcontext()
    with lock:
        return _run_processes(experiment, gpu, result_csv)


def _run_processes(experiment, gpu, result_csv):
    params = experiment.params  # the data plan reads the per-rank batch size set here
    processes = distributed.launched_world_size()
    if processes == 1:
        return _train_and_evaluate(experiment, result_csv)
    if params["data_loader"] == "fuxictr":
        raise ValueError("data_loader: 'fuxictr' cannot shard data over processes; use columnar or streaming")
    if params.get("embedding_optimizer"):
        raise ValueError(f"embedding_optimizer: {params['embedding_optimizer']!r} (sparse updates) runs in one process "
                         "only; drop it or run without torchrun / --nproc")
    params["batch_size"] = distributed.per_rank_batch_size(params["batch_size"], processes)
    params["gpu"] = distributed.init(gpu, params.get("distributed_timeout", distributed.DEFAULT_TIMEOUT_S))
    params.update(rank=distributed.rank(), world_size=processes)
    try:
        return _train_and_evaluate(experiment, result_csv)
    finally:
        distributed.shutdown()


def _train_and_evaluate(experiment, result_csv):
    from fuxictr.pytorch.torch_utils import seed_everything
    from fuxictr.utils import print_to_json

    params, model_class, expid, plan = experiment.params, experiment.model_class, experiment.expid, experiment.data
    parallel = params.get("world_size", 1) > 1
    main = distributed.is_main()
    if main:
        setup_logging(params)
    else:
        distributed.quiet_other_ranks()
        params["verbose"] = 0
    logging.info("fuxictr_ssr run: config=%s expid=%s model=%s threads=%d", experiment.config_dir, expid, params["model"],
                 torch.get_num_threads())
    if parallel:
        logging.info("Data parallel: %d processes, %d rows per process and step", params["world_size"],
                     params["batch_size"])
    logging.info("Params: " + print_to_json(params))
    seed_everything(seed=params["seed"])

    if parallel and not main:
        distributed.barrier()  # rank 0 preprocesses; the others then read what it wrote
    feature_map, paths = plan.prepare()
    if parallel and main:
        distributed.barrier()
    plan.check_evaluable(feature_map, paths)
    logging.info("Feature specs: " + print_to_json(feature_map.features))
    model = model_class(feature_map, **params)
    total_params, non_embedding_params = count_parameters(model)
    logging.info("Parameters: non-embedding %d, total %d", non_embedding_params, total_params)
    logging.info("Device: %s (model class %s.%s)", model.device, model_class.__module__, model_class.__name__)
    if parallel:
        distributed.make_data_parallel(model)

    train_gen, valid_gen = plan.loaders(feature_map, paths, "train")
    best_epoch = record_best_epoch(model)
    start = time.perf_counter()
    model.fit(train_gen, validation_data=valid_gen, **params)
    train_time = time.perf_counter() - start
    epochs_run = model._epoch_index + 1
    train_samples = train_gen.num_samples * params.get("world_size", 1)

    logging.info("****** Validation evaluation ******")
    valid_result, ics_zeros = model.evaluate_with_ics_zeros(valid_gen)  # of the best checkpoint
    if ics_zeros:
        logging.info("Share of zeros after ICS per layer (validation, best checkpoint): %s",
                     ", ".join(f"{share:.4f}" for share in ics_zeros))
    del train_gen, valid_gen
    gc.collect()
    test_result = {}
    if params.get("test_data"):
        logging.info("******** Test evaluation ********")
        test_result = model.evaluate(plan.loaders(feature_map, paths, "test"))

    if not main:
        return None
    append_result_line(result_csv, expid, params["dataset_id"], valid_result, test_result)
    return {
        "expid": expid, "model": params["model"], "dataset_id": params["dataset_id"],
        "seed": params["seed"], "valid": dict(valid_result), "test": dict(test_result),
        "params_total": total_params, "params_non_embedding": non_embedding_params,
        "train_time_s": train_time, "best_epoch": best_epoch["epoch"], "epochs_run": epochs_run,
        "samples_per_s": train_samples * epochs_run / train_time, "checkpoint": model.checkpoint,
        "fuxictr_version": fuxictr.__version__, "torch_version": torch.__version__,
        "device": str(model.device) + (f" x{params['world_size']}" if parallel else ""),
        "threads": torch.get_num_threads(), "ics_zeros": ics_zeros,
        "execution": execution_label(*getattr(model, "execution", (False, "fp32"))),
    }

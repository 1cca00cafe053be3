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
import re
import sys
import time
from datetime import datetime
from pathlib import Path

import fuxictr
import torch

from . import __version__, distributed
from .config import (DEFAULT_PARAMS, cap_epochs, check_data_params, check_training_params, check_unknown_keys,
                     load_params)
from .analysis.ics_activity import SurvivorMeter, ics_layers
from .data.dataset import check_dataset, check_evaluable_splits, check_raw_data, make_loaders, prepare_data, relocate_data_root
from .models.checked_model import count_parameters
from .models.execution import execution_label
from .registry import constructor_keys, get_model_class
from .safe_files import append_line, check_output_path, claimed


class EpochLines(logging.Handler):
    """Console progress of a run that logs to its file only (``log_to_console: epochs``): one line
    per finished epoch, with the validation metrics fuxictr logged and the epoch's seconds."""
    EPOCH = re.compile(r"Epoch=(\d+) (start|end|early stop)")

    def __init__(self):
        super().__init__(logging.INFO)
        self.metrics, self.start = "", time.perf_counter()

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("[Metrics] "):
            self.metrics = message[len("[Metrics] "):]
        elif match := self.EPOCH.search(message):
            now = time.perf_counter()
            if match[2] != "start":  # fuxictr logs the start of the first epoch only
                print(f"    epoch {match[1]}: valid {self.metrics} ({now - self.start:.0f} s)", flush=True)
            self.start = now


def log_path(params):
    return os.path.join(params["model_root"], params["dataset_id"], params["model_id"] + ".log")


def setup_logging(params):
    """Log to ``<model_root>/<dataset_id>/<expid>.log`` (as FuxiCTR does) and to the console:
    everything (``log_to_console: true``), one line per epoch (``epochs``) or nothing (``false``);
    a quiet run also keeps Ray to warnings."""
    os.makedirs(os.path.dirname(log_path(params)), exist_ok=True)
    handlers = [logging.FileHandler(log_path(params), mode="w")]
    if params["log_to_console"] is True:
        handlers.append(logging.StreamHandler())
    else:
        if params["log_to_console"] == "epochs":
            handlers.append(EpochLines())
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s P%(process)d %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    logging.info("FuxiCTR version: %s, fuxictr_ssr version: %s", fuxictr.__version__, __version__)


def resolve_params(config_dir, expid, gpu=-1, overrides=None, data_root=None, max_epochs=None):
    """Load, complete and check an experiment's params; no data is read and nothing is trained.

    ``data_root`` (optional) relocates the dataset (see :func:`fuxictr_ssr.data.dataset.relocate_data_root`);
    ``max_epochs`` caps ``epochs`` (early stopping still applies).
    Returns ``(params, model_class)``. Raises ``ValueError`` for any config or data-path error.
    """
    params = dict(DEFAULT_PARAMS)
    params.update(load_params(config_dir, expid))
    params.update(overrides or {})
    if max_epochs is not None:
        params["epochs"] = cap_epochs(params["epochs"], max_epochs)
    if data_root:
        check_data_params(params)
        relocate_data_root(params, data_root)
    params["gpu"] = gpu
    model_class = get_model_class(params["model"], search_dir=os.getcwd())
    check_training_params(params)
    if hasattr(model_class, "check_params"):
        model_class.check_params(params)
    check_unknown_keys(params, constructor_keys(model_class))
    check_data_params(params)
    check_dataset(params)
    return params, model_class


def check_gpu(gpu):
    """fuxictr trains on the CPU when the requested GPU is absent, without a word: say so (and
    name a device index this machine does not have)."""
    if gpu is None or gpu < 0:
        return
    if not torch.cuda.is_available():
        print(f"warning: --gpu {gpu}: CUDA is not available here (torch {torch.__version__}); training on the CPU",
              file=sys.stderr)
    elif gpu >= torch.cuda.device_count():
        raise ValueError(f"--gpu: device {gpu} requested; this machine has {torch.cuda.device_count()} CUDA devices")


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


def user_command(argv=None):
    """This process's command line as a user would type it again: ``fuxictr-ssr ...`` for the
    console command and ``python -m fuxictr_ssr`` (how a benchmark starts its runs), ``python
    <script> ...`` otherwise (FuxiCTR's form); the benchmark's private ``--result-json`` file is
    left out."""
    argv = list(sys.argv if argv is None else argv)
    ours = os.path.basename(argv[0]) == "fuxictr-ssr" or argv[0].endswith(os.path.join("fuxictr_ssr", "__main__.py"))
    words = ["fuxictr-ssr" if ours else f"python {argv[0]}"]
    rest = iter(argv[1:])
    for word in rest:
        if word == "--result-json":
            next(rest, None)
        elif not word.startswith("--result-json="):
            words.append(word)
    return " ".join(words)


def append_result_line(result_csv, expid, dataset_id, valid_result, test_result):
    """One line in FuxiCTR's result format, appended atomically (earlier lines are never touched)."""
    append_line(result_csv, f" {datetime.now().strftime('%Y%m%d-%H%M%S')},[command] {user_command()},"
                            f"[exp_id] {expid},[dataset_id] {dataset_id},[train] N.A.,"
                            f"[val] {format_metrics(valid_result)},[test] {format_metrics(test_result)}")


def default_result_csv(config_dir):
    """FuxiCTR's result file: ``<config folder name>.csv`` in the current folder."""
    return Path(config_dir).name.replace(".yaml", "") + ".csv"


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
    params, model_class = resolve_params(config_dir, expid, gpu, overrides, data_root, max_epochs)
    result_csv = result_csv or default_result_csv(config_dir)
    check_output_path(result_csv, "--result-csv")
    check_output_path(params["model_root"], "model_root", is_folder=True)
    check_raw_data(params)
    check_gpu(gpu)
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads: expected a positive integer, got {threads}")
        torch.set_num_threads(threads)
    # Two runs of one expid under one model_root would write one checkpoint and log; the second is
    # refused before it starts. The log is the lock (no extra file); under torchrun rank 0 alone
    # writes, so it alone claims.
    run_files = f"model_root {params['model_root']!r}, expid {expid!r} (its checkpoint and log)"
    lock = claimed(log_path(params), run_files) if distributed.launched_rank() == 0 else contextlib.nullcontext()
    with lock:
        return _run_processes(params, model_class, config_dir, expid, gpu, result_csv)


def _run_processes(params, model_class, config_dir, expid, gpu, result_csv):
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
    logging.info("fuxictr_ssr run: config=%s expid=%s model=%s threads=%d", config_dir, expid, params["model"],
                 torch.get_num_threads())
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
    check_evaluable_splits(feature_map, params)
    logging.info("Feature specs: " + print_to_json(feature_map.features))
    model = model_class(feature_map, **params)
    total_params, non_embedding_params = count_parameters(model)
    logging.info("Parameters: non-embedding %d, total %d", non_embedding_params, total_params)
    logging.info("Device: %s (model class %s.%s)", model.device, model_class.__module__, model_class.__name__)
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
    with SurvivorMeter(ics_layers(model)) as meter:  # the best checkpoint's share of zeros after ICS
        valid_result = model.evaluate(valid_gen)
    ics_zeros = [1 - share for _, share in sorted(meter.fractions().items())]
    if ics_zeros:
        logging.info("Share of zeros after ICS per layer (validation, best checkpoint): %s",
                     ", ".join(f"{share:.4f}" for share in ics_zeros))
    del train_gen, valid_gen
    gc.collect()
    test_result = {}
    if params.get("test_data"):
        logging.info("******** Test evaluation ********")
        test_result = model.evaluate(make_loaders(feature_map, params, "test"))

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

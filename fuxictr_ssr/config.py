"""Loading and checking experiment configs before any data is read or any model is built.

Configs use FuxiCTR's layout: a config folder with ``model_config.yaml`` (a ``Base`` block plus
one block per experiment id) and ``dataset_config.yaml`` (one block per ``dataset_id``), or the
``model_config/*.yaml`` / ``dataset_config/*.yaml`` folder variants. Every problem found here is a
``ValueError`` that names the key, file or experiment id and says what was expected.
"""
import difflib
import glob
import os
import re
import sys

import yaml

from .presets import expand_preset

REQUIRED_KEYS = ("model", "dataset_id")
RAW_DATA_FORMATS = ("csv", "parquet")
DATA_FORMATS = RAW_DATA_FORMATS + ("npz", "h5")
SPLITS = ("train", "valid", "test")
SPLIT_KEYS = tuple(f"{split}_data" for split in SPLITS)
# Keys of a dataset block that say where the data is, and the rest of a dataset block
DATA_LOCATION_KEYS = ("data_root", "data_format", "data_source") + SPLIT_KEYS
DATASET_KEYS = DATA_LOCATION_KEYS + ("min_categr_count", "feature_cols", "label_col", "feature_processor")
BARS_SEEDS = (2021, 190034, 992817, 27011, 948432)

# What an experiment gets for the keys its config leaves out (FuxiCTR's run_expid.py conventions)
DEFAULT_PARAMS = {
    "data_format": "csv",
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


# Keys FuxiCTR (BaseModel, fit, its loaders and preprocessing) and this runner read, beyond a model's
# own constructor arguments and the dataset keys
RUN_KEYS = ("model", "dataset_id", "model_id", "gpu", "model_root", "seed", "verbose", "metrics", "task", "optimizer",
            "loss", "learning_rate", "epochs", "batch_size", "shuffle", "num_workers", "monitor", "monitor_mode",
            "early_stop_patience", "save_best_only", "eval_steps", "reduce_lr_on_plateau", "max_gradient_norm",
            "embedding_regularizer", "net_regularizer", "data_loader", "block_rows", "prefetch", "log_to_console",
            "distributed_timeout", "group_id", "streaming", "rebuild_dataset", "data_block_size", "strict_keys",
            "compile", "precision", "debug_mode", "use_features", "pickle_feature_encoder", "feature_specs", "feature_config",
            "tuning", "optimizer_epsilon", "embedding_optimizer", "batch_norm_warm_start", "progress_seconds", "log_to")


def check_unknown_keys(params, model_keys):
    """Name every key that nothing reads, with the closest known key: a warning on stderr (FuxiCTR
    ignores such keys, and configs written for other models carry some), an error with
    ``strict_keys: true``."""
    known = set(RUN_KEYS) | set(DATASET_KEYS) | set(DEFAULT_PARAMS) | set(model_keys)
    for key in sorted(k for k in params if k not in known):
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        message = (f"{key}: unknown key in experiment {params.get('model_id')!r}"
                   + (f" (did you mean {close[0]!r}?)" if close else "") + "; nothing reads it")
        if params.get("strict_keys"):
            raise ValueError(message)
        print(f"warning: {message} (strict_keys: true makes this an error)", file=sys.stderr)


def cap_epochs(epochs, max_epochs):
    if not isinstance(max_epochs, int) or isinstance(max_epochs, bool) or max_epochs < 1:
        raise ValueError(f"--max-epochs: expected a positive integer, got {max_epochs!r}")
    return min(epochs, max_epochs) if isinstance(epochs, int) else epochs  # a bad epochs is named later


def data_format(params):
    return params.get("data_format", DEFAULT_PARAMS["data_format"])


def preprocessed_parquet(params):
    """FuxiCTR's own preprocessed dataset block (``data_format: parquet``, a ``feature_map.json`` in
    ``<data_root>/<dataset_id>/``, no ``feature_cols``): read as it is, as FuxiCTR's run_expid.py
    does, instead of being preprocessed again."""
    return (data_format(params) == "parquet" and not params.get("feature_cols") and "data_root" in params
            and os.path.isfile(os.path.join(params["data_root"], params["dataset_id"], "feature_map.json")))


def config_files(config_dir, name):
    single = os.path.join(config_dir, f"{name}.yaml")
    return [single] if os.path.isfile(single) else sorted(glob.glob(os.path.join(config_dir, name, "*.yaml")))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key written twice in one mapping is an error (plain YAML
    keeps the last one silently: a duplicated experiment id would shadow the first)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1}): "
                                 "each key, experiment id included, may appear once")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path):
    try:
        with open(path) as handle:
            content = yaml.load(handle, Loader=_UniqueKeyLoader) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ValueError(f"{path}: not valid YAML{where}: {problem}") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a mapping of blocks at the top level, got {type(content).__name__}")
    return content


def load_params(config_dir, expid):
    """Merge ``Base``, the experiment block and its dataset block into one params dict."""
    params = load_experiment(config_dir, expid)
    params.update(load_dataset_block(config_dir, params["dataset_id"]))
    return params


def load_experiment(config_dir, expid):
    """``Base`` merged with the experiment block, its ``preset`` expanded (:mod:`fuxictr_ssr.presets`;
    ``model_id`` set; the dataset block not merged)."""
    if not os.path.isdir(config_dir):
        raise ValueError(f"--config: config folder {config_dir!r} does not exist")
    model_files = config_files(config_dir, "model_config")
    if not model_files:
        raise ValueError(f"--config: no model_config.yaml (or model_config/*.yaml) in {config_dir!r}")
    base, experiment, known_ids, defined_in = {}, None, [], {}
    for path in model_files:
        blocks = read_yaml(path)
        base = blocks.get("Base", base) or {}
        for key in blocks:
            if key != "Base" and key in defined_in:
                raise ValueError(f"--expid: experiment {key!r} is defined twice, in {defined_in[key]} and {path}")
            defined_in[key] = path
        known_ids += [key for key in blocks if key != "Base"]
        if expid in blocks and experiment is None:
            experiment = blocks[expid] or {}
            if not isinstance(experiment, dict):
                raise ValueError(f"{path}: experiment {expid!r}: expected a mapping of keys, "
                                 f"got {type(experiment).__name__}")
    if experiment is None:
        raise ValueError(f"--expid: experiment {expid!r} not found in {config_dir!r}; "
                         f"available: {', '.join(sorted(known_ids)) or '(none)'}")
    params = expand_preset({**base, **experiment})
    params["model_id"] = expid
    for key in REQUIRED_KEYS:
        if not params.get(key):
            raise ValueError(f"{key}: missing in experiment {expid!r} (and in Base) of {config_dir!r}")
    return params


def load_dataset_block(config_dir, dataset_id, _seen=()):
    """The block ``dataset_id`` of the folder's dataset config. A block with ``from: FOLDER`` (a
    path relative to the file's folder) takes that folder's block of the same id, its own other
    keys winning, so a study folder refers to its benchmark's dataset instead of copying it."""
    dataset_files = config_files(config_dir, "dataset_config")
    if not dataset_files:
        raise ValueError(f"dataset_id: no dataset_config.yaml (or dataset_config/*.yaml) in {config_dir!r}")
    known = []
    for path in dataset_files:
        blocks = read_yaml(path)
        if dataset_id in blocks:
            block = blocks[dataset_id] or {}
            if not isinstance(block, dict):
                raise ValueError(f"{path}: dataset {dataset_id!r}: expected a mapping of keys, got {type(block).__name__}")
            if "from" in block:
                return _referred_block(path, dataset_id, block, _seen)
            return dict(block, dataset_id=dataset_id)
        known += list(blocks)
    raise ValueError(f"dataset_id: {dataset_id!r} not found in the dataset config of {config_dir!r}; "
                     f"available: {', '.join(sorted(known)) or '(none)'}")


def _referred_block(path, dataset_id, block, seen):
    source = os.path.normpath(os.path.join(os.path.dirname(path), str(block["from"])))
    if not os.path.isdir(source) or source in seen:
        problem = "refers back to itself" if source in seen else "is not a folder"
        raise ValueError(f"{path}: dataset {dataset_id!r}: from: {block['from']!r} {problem} (expected a config "
                         "folder, relative to this file's folder, whose dataset config has this dataset id)")
    referred = load_dataset_block(source, dataset_id, seen + (source,))
    return {**referred, **{key: value for key, value in block.items() if key != "from"}}


def check_data_params(params):
    """Check the dataset block: format, paths and, for raw data, the column specs."""
    if data_format(params) not in DATA_FORMATS:
        raise ValueError(f"data_format: expected one of {', '.join(DATA_FORMATS)}, got {data_format(params)!r}")
    if "data_root" not in params:
        raise ValueError(f"data_root: missing in dataset {params['dataset_id']!r}")
    builds = data_format(params) in RAW_DATA_FORMATS + ("h5",) and not preprocessed_parquet(params)
    if builds and not params.get("feature_cols"):
        raise ValueError(f"feature_cols: dataset {params['dataset_id']!r} needs a non-empty list of "
                         "feature columns to preprocess raw data (FuxiCTR's preprocessed parquet needs its "
                         f"feature_map.json in {os.path.join(params['data_root'], params['dataset_id'])!r})")
    if builds and not params.get("label_col"):
        raise ValueError(f"label_col: missing in dataset {params['dataset_id']!r}")
    if builds:
        check_feature_cols(params["feature_cols"])
    for key in SPLIT_KEYS[:2]:
        if not params.get(key):
            raise ValueError(f"{key}: missing in dataset {params['dataset_id']!r}")


FEATURE_TYPES = ("categorical", "numeric", "sequence", "meta")
# fuxictr evaluates a dtype string as Python (eval), so only these names may reach it
FEATURE_DTYPES = ("str", "int", "float")


def check_feature_cols(feature_cols):
    """Each feature column block: a name, a known ``type`` and a known ``dtype``."""
    if not isinstance(feature_cols, list):
        raise ValueError(f"feature_cols: expected a list of column blocks, got {feature_cols!r}")
    for number, column in enumerate(feature_cols, start=1):
        where = f"feature_cols[{number}]"
        if not isinstance(column, dict) or "name" not in column:
            raise ValueError(f"{where}: expected a mapping with a name, got {column!r}")
        where += f" ({column['name']})"
        if column.get("type") not in FEATURE_TYPES:
            raise ValueError(f"{where}: type: expected one of {', '.join(FEATURE_TYPES)}, got {column.get('type')!r}")
        if "dtype" in column and column["dtype"] not in FEATURE_DTYPES:
            raise ValueError(f"{where}: dtype: expected one of {', '.join(FEATURE_DTYPES)}, got {column['dtype']!r}")


REGULARIZER_PATTERN = re.compile(r"^(l1|l2)\(\s*[0-9.eE+-]+\s*\)$|^l1_l2\(\s*[0-9.eE+-]+\s*,\s*[0-9.eE+-]+\s*\)$")


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_training_params(params):
    """Check the keys FuxiCTR's BaseModel and the runner use, whatever the model."""
    for key in ("embedding_regularizer", "net_regularizer"):
        value = params.get(key)
        hint = " (YAML reads 1e-05 as text: write 1.0e-05)" if isinstance(value, str) and _looks_numeric(value) else ""
        require(value is None or (is_number(value) and value >= 0)
                or (isinstance(value, str) and REGULARIZER_PATTERN.match(value)),
                key, "a number >= 0, 'l1(x)', 'l2(x)' or 'l1_l2(x, y)'" + hint, value)
    value = params.get("learning_rate", 1e-3)
    require(is_number(value) and value > 0, "learning_rate", "a positive number", value)
    for key in ("batch_size", "epochs"):
        require_positive_int(params, key)
    require_choice(params, "monitor_mode", ("max", "min"))
    check_metrics(params)
    for key in ("model_id", "dataset_id"):
        require_plain_name(params, key)
    require(isinstance(params.get("seed"), int), "seed", "an integer", params.get("seed"))
    if "early_stop_patience" in params:
        require_positive_int(params, "early_stop_patience")
    require(params.get("log_to_console", True) in (True, False, "epochs"), "log_to_console",
            "true, false or 'epochs' (one console line per epoch)", params.get("log_to_console"))
    check_optimizer_and_loss(params)


# The metric names fuxictr's evaluate_metrics computes (NDCG with its cut-off, e.g. NDCG@10)
METRICS = ("logloss", "binary_crossentropy", "AUC", "gAUC", "avgAUC", "MRR")


def check_metrics(params):
    """``metrics`` and the metrics ``monitor`` names (a name, or ``{name: weight}``) are ones
    fuxictr computes: a typo would otherwise stop the run at its first validation."""
    metrics = params.get("metrics", ["logloss", "AUC"])
    require(isinstance(metrics, list) and metrics, "metrics", f"a list of metric names ({', '.join(METRICS)})", metrics)
    monitor = params.get("monitor", "AUC")
    named = [("metrics", m) for m in metrics] + [("monitor", m) for m in (monitor if isinstance(monitor, dict)
                                                                         else [monitor])]
    for key, name in named:
        require(isinstance(name, str) and (name in METRICS or name.startswith("NDCG")), key,
                f"metric names of {', '.join(METRICS)} or NDCG@k", name)


def require_plain_name(params, key):
    """An experiment or dataset id names a file and a folder under model_root / data_root: no
    path separators, no absolute path, no '..'."""
    value = params.get(key)
    if value is None:
        return
    require(isinstance(value, str) and value not in ("", ".", "..") and not os.path.isabs(value)
            and "/" not in value and "\\" not in value, key,
            "a plain name (no '/', '\\', '..' or absolute path: it names files under model_root and data_root)", value)


LOSS_ALIASES = ("bce", "binary_crossentropy", "binary_cross_entropy")
# Losses computed from the model's logit (the models here return it beside y_pred)
LOGIT_LOSSES = ("bce_with_logits", "binary_cross_entropy_with_logits")
OPTIMIZERS_HERE = ("keras_adam",)


def check_optimizer_and_loss(params):
    """The names fuxictr's ``get_optimizer`` / ``get_loss`` resolve (a torch.optim class, a
    torch.nn.functional loss), checked before any model is built."""
    import torch
    optimizer = params.get("optimizer", "adam")
    if isinstance(optimizer, str) and optimizer.lower() not in OPTIMIZERS_HERE:
        name = "Adam" if optimizer.lower() == "adam" else optimizer
        known = isinstance(getattr(torch.optim, name, None), type) and issubclass(getattr(torch.optim, name),
                                                                                 torch.optim.Optimizer)
        require(known, "optimizer", "a torch.optim optimizer name, e.g. adam, Adam, SGD, AdamW, or keras_adam",
                optimizer)
    loss = params.get("loss", "binary_crossentropy")
    if isinstance(loss, str) and loss not in LOSS_ALIASES + LOGIT_LOSSES:
        require(callable(getattr(torch.nn.functional, loss, None)), "loss",
                f"one of {', '.join(LOSS_ALIASES + LOGIT_LOSSES)} or a torch.nn.functional loss name", loss)


def _looks_numeric(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def require(condition, key, expected, value):
    if not condition:
        raise ValueError(f"{key}: expected {expected}, got {value!r}")


def require_positive_int(params, key):
    value = params.get(key)
    require(isinstance(value, int) and not isinstance(value, bool) and value > 0,
            key, "a positive integer", value)


def require_int_list(params, key, minimum=1, allow_empty=False):
    value = params.get(key)
    ok = isinstance(value, (list, tuple)) and (allow_empty or len(value) > 0) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value)
    bound = "positive integers" if minimum == 1 else f"integers >= {minimum}"
    require(ok, key, f"a {'' if allow_empty else 'non-empty '}list of {bound}", value)


def require_choice(params, key, choices):
    value = params.get(key)
    require(value in choices, key, f"one of {', '.join(map(str, choices))}", value)


def require_rate(params, key):
    value = params.get(key)
    require(isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1,
            key, "a dropout rate in [0, 1)", value)

"""Loading and checking experiment configs before any data is read or any model is built.

Configs use FuxiCTR's layout: a config folder with ``model_config.yaml`` (a ``Base`` block plus
one block per experiment id) and ``dataset_config.yaml`` (one block per ``dataset_id``), or the
``model_config/*.yaml`` / ``dataset_config/*.yaml`` folder variants. Every problem found here is a
``ValueError`` that names the key, file or experiment id and says what was expected.
"""
import glob
import os
import re

import yaml

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


def data_format(params):
    return params.get("data_format", DEFAULT_PARAMS["data_format"])


def config_files(config_dir, name):
    single = os.path.join(config_dir, f"{name}.yaml")
    return [single] if os.path.isfile(single) else sorted(glob.glob(os.path.join(config_dir, name, "*.yaml")))


def read_yaml(path):
    with open(path) as handle:
        content = yaml.safe_load(handle) or {}
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a mapping of blocks at the top level, got {type(content).__name__}")
    return content


def load_params(config_dir, expid):
    """Merge ``Base``, the experiment block and its dataset block into one params dict."""
    if not os.path.isdir(config_dir):
        raise ValueError(f"--config: config folder {config_dir!r} does not exist")
    model_files = config_files(config_dir, "model_config")
    if not model_files:
        raise ValueError(f"--config: no model_config.yaml (or model_config/*.yaml) in {config_dir!r}")
    base, experiment, known_ids = {}, None, []
    for path in model_files:
        blocks = read_yaml(path)
        base = blocks.get("Base", base) or {}
        known_ids += [key for key in blocks if key != "Base"]
        if expid in blocks and experiment is None:
            experiment = blocks[expid] or {}
    if experiment is None:
        raise ValueError(f"--expid: experiment {expid!r} not found in {config_dir!r}; "
                         f"available: {', '.join(sorted(known_ids)) or '(none)'}")
    params = dict(base)
    params.update(experiment)
    params["model_id"] = expid
    for key in REQUIRED_KEYS:
        if not params.get(key):
            raise ValueError(f"{key}: missing in experiment {expid!r} (and in Base) of {config_dir!r}")
    dataset_params = load_dataset_block(config_dir, params["dataset_id"])
    params.update(dataset_params)
    return params


def load_dataset_block(config_dir, dataset_id):
    dataset_files = config_files(config_dir, "dataset_config")
    if not dataset_files:
        raise ValueError(f"dataset_id: no dataset_config.yaml (or dataset_config/*.yaml) in {config_dir!r}")
    known = []
    for path in dataset_files:
        blocks = read_yaml(path)
        if dataset_id in blocks:
            return dict(blocks[dataset_id] or {}, dataset_id=dataset_id)
        known += list(blocks)
    raise ValueError(f"dataset_id: {dataset_id!r} not found in the dataset config of {config_dir!r}; "
                     f"available: {', '.join(sorted(known)) or '(none)'}")


def check_data_params(params):
    """Check the dataset block: format, paths and, for raw data, the column specs."""
    if data_format(params) not in DATA_FORMATS:
        raise ValueError(f"data_format: expected one of {', '.join(DATA_FORMATS)}, got {data_format(params)!r}")
    if "data_root" not in params:
        raise ValueError(f"data_root: missing in dataset {params['dataset_id']!r}")
    builds = data_format(params) in RAW_DATA_FORMATS + ("h5",)
    if builds and not params.get("feature_cols"):
        raise ValueError(f"feature_cols: dataset {params['dataset_id']!r} needs a non-empty list of "
                         "feature columns to preprocess raw data")
    if builds and not params.get("label_col"):
        raise ValueError(f"label_col: missing in dataset {params['dataset_id']!r}")
    for key in SPLIT_KEYS[:2]:
        if not params.get(key):
            raise ValueError(f"{key}: missing in dataset {params['dataset_id']!r}")


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
    require(isinstance(params.get("seed"), int), "seed", "an integer", params.get("seed"))


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

"""Model registry: model name -> model class.

Every model this package provides registers itself here with :func:`register_model`; the same
names are published as Python entry points in the group ``fuxictr.models`` (see ``setup.py``),
so other tools can discover them. :func:`get_model_class` resolves a config's ``model`` name as
FuxiCTR's model_zoo folders expect: a ``src`` package in the folder the run starts from first
(``getattr(src, name)``: in FuxiCTR's ``model_zoo/DCNv2`` its own ``src.DCNv2``, not ours), then
this registry, then models other packages publish under ``fuxictr.models``. :func:`create_model`
builds a model from a params dict without reading any data (as timm's ``create_model``).
"""
import importlib
import inspect
import os
import sys
from importlib.metadata import entry_points

from .presets import expand_preset

ENTRY_POINT_GROUP = "fuxictr.models"
_REGISTRY = {}


def register_model(cls):
    """Class decorator adding ``cls`` to the registry under its class name."""
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"model name {name!r} is already registered by {_REGISTRY[name]!r}")
    _REGISTRY[name] = cls
    return cls


def list_models():
    """Names of the models this package registers, sorted."""
    _load_builtin_models()
    return sorted(_REGISTRY)


def _load_builtin_models():
    importlib.import_module("fuxictr_ssr.models")


def _from_entry_points(name):
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == name:
            return entry_point.load()
    return None


def _from_local_src(name, search_dir):
    """FuxiCTR's model_zoo convention: a ``src`` package (or ``src.py``) next to ``run_expid.py``."""
    if search_dir is None or not (os.path.isfile(os.path.join(search_dir, "src", "__init__.py"))
                                  or os.path.isfile(os.path.join(search_dir, "src.py"))):
        return None
    if search_dir not in sys.path:
        sys.path.insert(0, search_dir)
    return getattr(importlib.import_module("src"), name, None)


def get_model_class(name, search_dir=None):
    """Resolve a model name; raise ``ValueError`` listing the known names when none matches.

    Args:
        name: the config's ``model`` value.
        search_dir: folder that may hold a model_zoo-style ``src`` package (the runner passes the
            current working directory, as FuxiCTR's ``run_expid.py`` does).
    """
    _load_builtin_models()
    model_class = _from_local_src(name, search_dir) or _REGISTRY.get(name) or _from_entry_points(name)
    if model_class is None:
        raise ValueError(f"model: unknown model {name!r}; registered models: {', '.join(list_models())} "
                         "(or define it in a local 'src' package, as FuxiCTR's model_zoo does)")
    return model_class


def create_model(params, feature_map=None):
    """Build the model ``params["model"]`` names, without reading data.

    Args:
        params: a config's params (``model`` plus the model's keys); keys it leaves out take the
            runner's defaults (:data:`fuxictr_ssr.config.DEFAULT_PARAMS`), and ``gpu`` -1.
        feature_map: fuxictr ``FeatureMap``; default: the one the params' dataset block
            (``feature_cols``, ``label_col``) describes, with small vocabularies
            (:func:`fuxictr_ssr.data.dataset.feature_map_from_config`), enough to count
            non-embedding parameters.
    """
    from .config import DEFAULT_PARAMS
    params = expand_preset(params)  # before the defaults, which would otherwise win over it
    if feature_map is None:
        from .data.dataset import feature_map_from_config
        feature_map = feature_map_from_config(params)
    return get_model_class(params["model"])(feature_map, **{**DEFAULT_PARAMS, "gpu": -1, **params})


def constructor_keys(model_class):
    """The keyword arguments ``model_class`` and its bases name (what it reads)."""
    return {name for cls in model_class.__mro__ if "__init__" in vars(cls)
            for name in inspect.signature(cls.__init__).parameters}

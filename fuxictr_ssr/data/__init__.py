"""Data: the in-memory and streaming loaders, the h5 store and the synthetic dataset generators."""
from ..compat import patch_fuxictr

# fuxictr 2.3.9/2.3.10 on numpy 2 and current scikit-learn, also for FuxiCTR's own run_expid.py
patch_fuxictr()

from .loader import ColumnarDataLoader
from .streaming import StreamingH5Loader
from .synthetic import SyntheticSpec, dataset_config, generate, write_splits

__all__ = ["ColumnarDataLoader", "StreamingH5Loader", "SyntheticSpec", "dataset_config", "generate", "write_splits"]

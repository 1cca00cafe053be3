"""Data: the in-memory and streaming loaders, the h5 store and the synthetic dataset generators."""
from .loader import ColumnarDataLoader
from .streaming import StreamingH5Loader
from .synthetic import SyntheticSpec, dataset_config, generate, write_splits

__all__ = ["ColumnarDataLoader", "StreamingH5Loader", "SyntheticSpec", "dataset_config", "generate", "write_splits"]

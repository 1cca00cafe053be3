"""Data: the columnar loader and the synthetic dataset generator."""
from .loader import ColumnarDataLoader
from .synthetic import SyntheticSpec, dataset_config, generate, write_splits

__all__ = ["ColumnarDataLoader", "SyntheticSpec", "dataset_config", "generate", "write_splits"]

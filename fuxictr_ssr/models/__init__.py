"""Models of the package; each registers itself in :mod:`fuxictr_ssr.registry`."""
from .dnn import DNN
from .ssr import SSR

__all__ = ["DNN", "SSR"]

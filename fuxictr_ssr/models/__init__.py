"""Models of the package; each registers itself in :mod:`fuxictr_ssr.registry`."""
from .dcnv2 import DCNv2
from .deepfm import DeepFM
from .dnn import DNN
from .ssr import SSR

__all__ = ["DCNv2", "DeepFM", "DNN", "SSR"]

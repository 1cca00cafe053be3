"""Models of the package; each registers itself in :mod:`fuxictr_ssr.registry`."""
from ..compat import patch_fuxictr

# fuxictr 2.3.9/2.3.10 on numpy 2 and current scikit-learn, also for FuxiCTR's own run_expid.py
patch_fuxictr()

from .dcnv2 import DCNv2
from .deepfm import DeepFM
from .dnn import DNN
from .rankmixer import RankMixer
from .ssr import SSR
from .wukong import WuKong

__all__ = ["DCNv2", "DeepFM", "DNN", "RankMixer", "SSR", "WuKong"]

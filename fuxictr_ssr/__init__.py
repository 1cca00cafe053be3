"""SSR (explicit sparsity for scalable CTR recommendation) as a FuxiCTR model plugin."""
from .compat import patch_fuxictr

__version__ = "0.1.0"

# Importing the package makes fuxictr 2.3.9/2.3.10 usable with numpy 2 and current scikit-learn,
# also for models run by FuxiCTR's own run_expid.py.
patch_fuxictr()

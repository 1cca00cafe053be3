"""SSR (explicit sparsity for scalable CTR recommendation) as a FuxiCTR model plugin.

Importing the package imports nothing heavy: :mod:`fuxictr_ssr.models` and
:mod:`fuxictr_ssr.data`, where fuxictr is first used, apply the compatibility patch
(:func:`fuxictr_ssr.compat.patch_fuxictr`).
"""
__version__ = "0.1.0"

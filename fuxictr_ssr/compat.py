"""What differs between the fuxictr releases we support (2.3.9, 2.3.10) and today's libraries,
and the fuxictr internals this package relies on.

* ``RankDataLoader`` is a class with ``.make_iterator()`` in 2.3.9 and a function returning the
  loaders in 2.3.10: :func:`rank_data_loaders` hides the difference.
* fuxictr 2.3.9's ``BaseModel.fit`` reads ``np.Inf`` and its sequence padding ``np.unicode_``
  (both gone in numpy 2), and its metrics call
  ``log_loss(..., eps=1e-7)`` (gone in scikit-learn 1.5). :func:`patch_fuxictr` restores them,
  keeping BARS's logloss definition (predictions clipped to [1e-7, 1 - 1e-7]) in every release.
* fuxictr 2.3.9's ``Tokenizer.fit_on_texts`` leaves a sequence's detected ``max_len`` a numpy
  integer, which its ``FeatureMap.save`` cannot write as JSON (any sequence feature without a
  ``max_len``): :func:`patch_fuxictr` makes it a Python ``int``.
* ``FeatureProcessor.read_data`` (both releases) calls ``polars.scan_csv(dtypes=...)``, an argument
  polars 2 removed (renamed ``schema_overrides``): :func:`patch_fuxictr` gives that module a
  :class:`PolarsWithDtypes` in place of ``polars``, so polars 1 and 2 both work.
  It also turns Ray's usage reporting off (``RAY_USAGE_STATS_ENABLED=0`` unless the user set it):
  fuxictr's parquet build starts Ray, which would otherwise try to report to the network.
  :mod:`fuxictr_ssr.models` and :mod:`fuxictr_ssr.data` apply it when imported, not the package
  itself, so importing :mod:`fuxictr_ssr.layers` (pure torch) patches nothing.

fuxictr internals used elsewhere (private names, or module attributes replaced at run time), in
case a fuxictr release changes them:

* ``fuxictr.metrics.log_loss``: replaced by :func:`clipped_log_loss` (here).
* ``fuxictr.preprocess.feature_processor.pl``: replaced by :class:`PolarsWithDtypes` (here).
* ``BaseModel._epoch_index``: read by the runner to record the best checkpoint's epoch.
* ``BaseModel.eval_step``: rewritten by :class:`~fuxictr_ssr.models.checked_model.CheckedModel`
  (same steps, plus the BatchNorm check), reading ``_epoch_index``, ``_batch_index``,
  ``_monitor`` and ``valid_gen``.
* ``BaseModel._max_gradient_norm``: read by the data-parallel training step
  (:mod:`fuxictr_ssr.distributed`), which also replaces the model's ``train_step``,
  ``evaluate_metrics``, ``checkpoint_and_earlystop``, ``save_weights`` and ``load_weights``.
* ``FeatureProcessor._collect_statistics``: replaced per build by :mod:`fuxictr_ssr.data.h5_store`
  with statistics counted in chunks (:mod:`fuxictr_ssr.data.statistics`, which reads
  ``feature_cols`` and ``dtype_dict``); the h5 module reads ``processor_dict``, ``feature_map`` and
  ``json_file`` of the processor.
"""
import inspect
import os

import numpy as np
from sklearn import metrics as sklearn_metrics

LOGLOSS_EPS = 1e-7


def clipped_log_loss(y_true, y_pred, eps=LOGLOSS_EPS, **kwargs):
    """BARS logloss: binary cross-entropy with predictions clipped to [eps, 1 - eps]."""
    return sklearn_metrics.log_loss(y_true, np.clip(y_pred, eps, 1 - eps), **kwargs)


def patch_fuxictr():
    """Make fuxictr 2.3.9/2.3.10 run on numpy 2 and current scikit-learn; idempotent."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not hasattr(np, "Inf"):
        np.Inf = np.inf
    if not hasattr(np, "unicode_"):  # 2.3.9's sequence padding (keras_preprocessing) reads it
        np.unicode_ = np.str_
    import fuxictr.metrics
    fuxictr.metrics.log_loss = clipped_log_loss
    _int_max_len()
    import fuxictr.preprocess.feature_processor as feature_processor
    if not isinstance(feature_processor.pl, PolarsWithDtypes):
        feature_processor.pl = PolarsWithDtypes(feature_processor.pl)


def _int_max_len():
    from fuxictr.preprocess.tokenizer import Tokenizer
    fit = getattr(Tokenizer, "fit_on_texts", None)  # 2.3.9 only; 2.3.10 fits in the processor
    if fit is None or getattr(fit, "gives_int_max_len", False):
        return

    def fit_on_texts(self, *args, **kwargs):
        fit(self, *args, **kwargs)
        self.max_len = int(self.max_len)

    fit_on_texts.gives_int_max_len = True
    Tokenizer.fit_on_texts = fit_on_texts


class PolarsWithDtypes:
    """polars as fuxictr's ``FeatureProcessor.read_data`` calls it: its ``scan_csv(dtypes=...)``
    is ``schema_overrides`` since polars 0.20.31, and polars 2 removed the old name. Everything
    else is polars itself."""

    def __init__(self, polars):
        self._polars = polars

    def __getattr__(self, name):
        return getattr(self._polars, name)

    def scan_csv(self, *args, dtypes=None, **kwargs):
        if dtypes is not None:
            kwargs["schema_overrides"] = dtypes
        return self._polars.scan_csv(*args, **kwargs)


def rank_data_loaders(feature_map, stage, **params):
    """Call fuxictr's ``RankDataLoader`` under either API; return what ``make_iterator`` returns."""
    from fuxictr.pytorch.dataloaders import RankDataLoader
    loaders = RankDataLoader(feature_map, stage=stage, **params)
    if inspect.isclass(RankDataLoader):
        loaders = loaders.make_iterator()
    return loaders

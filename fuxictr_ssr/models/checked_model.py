"""The base class of every model here: FuxiCTR's ``BaseModel`` with its config checked first, and a
check of BatchNorm's running statistics at every validation."""
import errno
import functools
import inspect
import logging
import os

import numpy as np
import torch
from torch import nn

from fuxictr.pytorch.layers import FeatureEmbeddingDict
from fuxictr.pytorch.models import BaseModel
from fuxictr.pytorch.torch_utils import get_regularizer

from ..analysis.ics_activity import SurvivorMeter, ics_layers
from ..config import LOGIT_LOSSES, is_number, require, require_positive_int, require_rate
from ..layers import warm_start_batch_norms
from ..optim import KerasAdam
from ..presets import expand_preset
from .execution import PRECISIONS, apply_execution
from .sparse_embeddings import EMBEDDING_OPTIMIZERS, clip_gradient_norm, make_sparse, touched_rows_penalty
from .training_progress import TrainingProgress, curves_path_of, tensorboard_available

# Validation AUC gap between BatchNorm's running statistics (eval mode) and the validation batches'
# own statistics above which the log warns; ``bn_check_threshold: null`` skips the check
BN_CHECK_THRESHOLD = 0.005
# seconds between in-epoch progress lines; ``progress_seconds: null`` turns them off
PROGRESS_SECONDS = 60


def effective_params(model_class, params):
    """The model's constructor defaults overridden by ``params`` (what the model will use)."""
    signature = inspect.signature(model_class.__init__)
    defaults = {name: p.default for name, p in signature.parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **params}


def count_parameters(model):
    """Return ``(total, non_embedding)`` trainable parameter counts.

    Embedding parameters are those of FuxiCTR's ``FeatureEmbeddingDict`` modules (the tables and
    the numeric features' projections), the same set BaseModel's ``embedding_regularizer`` covers.
    """
    embedding_ids = {id(p) for m in model.modules() if isinstance(m, FeatureEmbeddingDict)
                     for p in m.parameters()}
    total = non_embedding = 0
    for param in model.parameters():
        if param.requires_grad:
            total += param.numel()
            if id(param) not in embedding_ids:
                non_embedding += param.numel()
    return total, non_embedding


def flattened_embedding_dim(feature_map, embedding_dim):
    """Width of the flattened field embeddings (per-feature ``embedding_dim`` overrides count)."""
    return sum(spec.get("emb_output_dim", spec.get("embedding_dim", embedding_dim))
               for spec in feature_map.features.values() if spec["type"] != "meta")


class CheckedModel(BaseModel):
    """FuxiCTR ``BaseModel`` whose config is checked before anything is built.

    ``check_params`` fills in the constructor's defaults, checks the keys every model here has
    (``embedding_dim``, ``net_dropout``, ``bn_check_threshold``) and then the model's own
    (``check_model_params``). The runner calls it before any data is read; each model's
    ``__init__`` calls it first too.

    At every validation during training a model with BatchNorm layers is scored a second time with
    each BatchNorm using the validation batch's own statistics ("batch mode"), and the log gives
    both AUCs; a gap above ``bn_check_threshold`` (0.005) is a warning: the running statistics
    that eval mode uses do not describe the model being trained, so the checkpoint, early-stopping
    and learning-rate decisions act on another model. The second pass changes no state.
    """

    def __init_subclass__(cls, **kwargs):
        """Every model expands a ``preset`` key first (explicit keys win), so FuxiCTR's own
        ``run_expid.py``, which hands the config to the constructor as it is, builds the same model."""
        super().__init_subclass__(**kwargs)
        if "__init__" in vars(cls):
            init = cls.__init__

            @functools.wraps(init)
            def init_with_preset(self, *args, **params):
                init(self, *args, **expand_preset(params))

            cls.__init__ = init_with_preset

    @classmethod
    def check_params(cls, params):
        """Raise ``ValueError`` naming the first bad key of this model's config."""
        p = effective_params(cls, params)
        require_positive_int(p, "embedding_dim")
        require_rate(p, "net_dropout")
        threshold = p.get("bn_check_threshold", BN_CHECK_THRESHOLD)
        require(threshold is None or (is_number(threshold) and threshold >= 0), "bn_check_threshold",
                "a number >= 0 (an AUC gap) or null", threshold)
        epsilon = p.get("optimizer_epsilon")
        require(epsilon is None or (is_number(epsilon) and epsilon > 0), "optimizer_epsilon", "a number > 0 or null",
                epsilon)
        require(isinstance(p.get("compile", False), bool), "compile", "true or false", p.get("compile"))
        warm = p.get("batch_norm_warm_start", True)
        require(isinstance(warm, bool), "batch_norm_warm_start", "true or false", warm)
        every = p.get("progress_seconds", PROGRESS_SECONDS)
        require(every is None or (is_number(every) and every > 0), "progress_seconds",
                "a number of seconds > 0 between progress lines, or null", every)
        require(p.get("log_to") in (None, "tensorboard"), "log_to", "null or tensorboard", p.get("log_to"))
        if p.get("log_to") == "tensorboard" and not tensorboard_available():
            raise ValueError("log_to: tensorboard needs the tensorboard package: pip install 'fuxictr-ssr[tensorboard]'")
        require(p.get("embedding_optimizer") in (None, *EMBEDDING_OPTIMIZERS), "embedding_optimizer",
                f"null (FuxiCTR's dense updates) or one of {', '.join(EMBEDDING_OPTIMIZERS)}",
                p.get("embedding_optimizer"))
        require(p.get("precision", "fp32") in PRECISIONS, "precision", f"one of {', '.join(PRECISIONS)}",
                p.get("precision"))
        cls.check_model_params(p)

    @classmethod
    def check_model_params(cls, p):
        """Model-specific checks on the effective params ``p``."""

    def finish_building(self, learning_rate, optimizer, loss, bn_check_threshold=BN_CHECK_THRESHOLD,
                        batch_norm_warm_start=True, progress_seconds=PROGRESS_SECONDS, log_to=None,
                        optimizer_epsilon=None, compile=False, precision="fp32", embedding_optimizer=None,
                        **unused):
        """FuxiCTR's closing steps of a model's ``__init__``: optimizer and loss, FuxiCTR's
        initialisation (xavier-normal Linear, then every ``init_weights``), device.

        Beyond FuxiCTR's names, ``optimizer: keras_adam`` is :class:`~fuxictr_ssr.optim.KerasAdam`
        (eps 1e-7 unless ``optimizer_epsilon`` says otherwise), ``optimizer_epsilon`` sets the
        ``eps`` of a torch optimizer that has one, and ``loss: bce_with_logits`` is the exact
        binary cross-entropy of the model's logit (FuxiCTR's loss reads the probability, whose log
        is clipped at -100: no gradient once |logit| > ~17). ``compile`` and ``precision`` are
        applied last (:mod:`fuxictr_ssr.models.execution`); ``embedding_optimizer: sparse_adam``
        switches the tables to sparse updates (:mod:`fuxictr_ssr.models.sparse_embeddings`).
        ``batch_norm_warm_start`` (default) makes every BatchNorm of the model, the baselines'
        hidden-layer ones as SSR's embedding one, a :class:`~fuxictr_ssr.layers.WarmStartBatchNorm1d`,
        so that no model's validations read running statistics still dominated by torch's prior."""
        self.bn_check_threshold = bn_check_threshold
        self.progress_seconds, self.log_to, self.progress, self.ics_surviving = progress_seconds, log_to, None, {}
        if batch_norm_warm_start:
            warm_start_batch_norms(self)
        self.loss_from_logits = loss in LOGIT_LOSSES
        keras_adam = isinstance(optimizer, str) and optimizer.lower() == "keras_adam"
        self.compile("adam" if keras_adam else optimizer, "binary_cross_entropy" if self.loss_from_logits else loss,
                     learning_rate)
        if keras_adam:
            self.optimizer = KerasAdam(self.parameters(), lr=learning_rate,
                                       eps=1e-7 if optimizer_epsilon is None else optimizer_epsilon)
        elif optimizer_epsilon is not None:
            self.optimizer = type(self.optimizer)(self.parameters(), lr=learning_rate, eps=optimizer_epsilon)
        self.sparse_tables = []
        if embedding_optimizer:
            make_sparse(self, embedding_optimizer, learning_rate)
        self.reset_parameters()
        self.model_to_device()
        self.execution = (compile, precision)
        apply_execution(self, compile, precision)

    def predictions(self, logit):
        """A forward's return: the probability FuxiCTR reads, and the logit the logit loss reads."""
        logit = logit.float()  # fp32 probability and loss under any precision
        return {"y_pred": self.output_activation(logit), "logit": logit}

    def add_loss(self, return_dict, y_true):
        if not self.loss_from_logits:
            return super().add_loss(return_dict, y_true)
        if "logit" not in return_dict:
            raise ValueError(f"loss: {type(self).__name__} gives no logit, so bce_with_logits cannot be used")
        return nn.functional.binary_cross_entropy_with_logits(return_dict["logit"], y_true, reduction="mean")

    def regularization_loss(self):
        """BaseModel's regularisation; with sparse tables, ``embedding_regularizer`` reaches only the
        rows the batch looked up (a whole-table norm would give every row a gradient)."""
        if not self.sparse_tables:
            return super().regularization_loss()
        table_ids = {id(table.weight) for table in self.sparse_tables}
        embedding_ids = {id(p) for m in self.modules() if type(m) is FeatureEmbeddingDict for p in m.parameters()}
        emb_terms, net_terms = get_regularizer(self._embedding_regularizer), get_regularizer(self._net_regularizer)
        penalty = touched_rows_penalty(self.sparse_tables, self._embedding_regularizer)
        for param in self.parameters():
            if param.requires_grad and id(param) not in table_ids:
                for p, strength in emb_terms if id(param) in embedding_ids else net_terms:
                    penalty = penalty + (strength / p) * torch.norm(param, p) ** p
        return penalty

    def train_step(self, batch_data):
        """BaseModel's training step; with sparse tables, clipped by :func:`clip_gradient_norm`
        (torch's clipping cannot take a sparse gradient's norm)."""
        if not self.sparse_tables:
            return super().train_step(batch_data)
        self.optimizer.zero_grad()
        loss = self.compute_loss(self.forward(batch_data), self.get_labels(batch_data))
        loss.backward()
        clip_gradient_norm(self.parameters(), self._max_gradient_norm)
        self.optimizer.step()
        return loss

    def compute_loss(self, return_dict, y_true):
        """BaseModel's training loss, stopped with a named error when a prediction or the loss is
        not finite (BCE would otherwise fail later with "all elements of input should be between 0
        and 1", or train on NaN)."""
        if not torch.isfinite(return_dict["y_pred"]).all():
            self.stop_on_non_finite("the predictions")
        loss = super().compute_loss(return_dict, y_true)
        if not torch.isfinite(loss):
            self.stop_on_non_finite(f"the training loss ({loss.item()})")
        return loss

    def stop_on_non_finite(self, what):
        where = f"epoch {getattr(self, '_epoch_index', 0) + 1}, batch {getattr(self, '_batch_index', 0) + 1}"
        raise ValueError(f"{what} became non-finite at {where}: likely causes are a learning_rate too high, "
                         "inf/NaN or huge values in a numeric input column (the data check names them), or an "
                         "invalid numeric setting such as a non-positive eps")

    def fit(self, data_generator, *args, **kwargs):
        """BaseModel's training, with the run's progress lines and curves
        (:mod:`~fuxictr_ssr.models.training_progress`; one process of a data-parallel run writes them)."""
        if not (torch.distributed.is_initialized() and torch.distributed.get_rank() != 0):
            board = (os.path.join(os.path.dirname(self.checkpoint), "tensorboard", self.model_id)
                     if self.log_to == "tensorboard" else None)
            self.progress = TrainingProgress(len(data_generator), self.progress_seconds,
                                             curves_path_of(self.checkpoint), board)
        step = self.train_step

        def train_step(batch_data):
            loss = step(batch_data)
            if self.progress:
                rows = len(next(iter(batch_data.values())))
                self.progress.step(self._epoch_index + 1, self._batch_index, rows, loss.item())
            return loss

        self.train_step = train_step
        try:
            return super().fit(data_generator, *args, **kwargs)
        finally:
            self.train_step = step
            if self.progress:
                self.progress.close()

    def eval_step(self):
        """BaseModel's validation step (validate, then checkpoint / early stop / lr decision), with
        the BatchNorm check before the decision and the validation kept in the run's curves."""
        logging.info("Evaluation @epoch %d - batch %d: ", self._epoch_index + 1, self._batch_index + 1)
        logs = self.validate()
        self.check_batch_norm(logs)
        if self.progress:
            self.progress.validation(self._epoch_index + 1, logs, self.optimizer.param_groups[0]["lr"],
                                     self.ics_surviving)
        self.checkpoint_and_earlystop(logs)
        self.train()

    def save_weights(self, checkpoint):
        """BaseModel's save, through a temporary file and a rename: a kill during a save leaves the
        previous best checkpoint whole, not a torn file that the final reload cannot read."""
        try:
            super().save_weights(checkpoint + ".tmp")
        except (OSError, RuntimeError) as error:  # torch reports a full disk as a RuntimeError
            if getattr(error, "errno", None) != errno.ENOSPC and "No space left" not in str(error):
                raise
            if os.path.exists(checkpoint + ".tmp"):
                os.remove(checkpoint + ".tmp")
            needed = sum(t.numel() * t.element_size() for t in self.state_dict().values()) / 2 ** 20
            raise ValueError(f"{checkpoint}: the disk is full (about {needed:,.0f} MB needed for the checkpoint); "
                             "the previous best checkpoint and every finished result are kept") from None
        os.replace(checkpoint + ".tmp", checkpoint)

    def evaluate_with_ics_zeros(self, data_generator):
        """``(metrics, zeros)``: BaseModel's evaluation of ``data_generator`` and, per ICS layer in
        depth order, the share of zeros after ICS over it (empty for a model without ICS)."""
        with SurvivorMeter(ics_layers(self)) as meter:
            metrics = self.evaluate(data_generator)
        return metrics, [1 - share for _, share in sorted(meter.fractions().items())]

    def validate(self):
        """The monitored metrics on the validation split (eval mode), as BaseModel computes them;
        ``ics_surviving`` keeps each ICS layer's surviving fraction over it (SSR-D)."""
        with SurvivorMeter(ics_layers(self)) as meter:
            logs = self.evaluate(self.valid_gen, metrics=self._monitor.get_metrics())
        self.ics_surviving = meter.fractions()
        return logs

    def check_batch_norm(self, logs):
        """Log the validation AUC in batch mode beside ``logs``' (eval mode); warn on a gap."""
        if self.bn_check_threshold is None or "AUC" not in logs or not batch_norm_layers(self):
            return None
        batch_mode = self.evaluate_metrics(*self.batch_mode_predictions(self.valid_gen), ["AUC"])["AUC"]
        gap = batch_mode - logs["AUC"]
        message = (f"BatchNorm check: validation AUC {logs['AUC']:.6f} with running statistics (eval mode), "
                   f"{batch_mode:.6f} with each batch's own statistics")
        if abs(gap) > self.bn_check_threshold:
            logging.warning("%s: eval mode is %.4f %s batch mode, more than bn_check_threshold %g apart; the running "
                            "statistics do not describe the model being trained (checkpoint and early stopping act on "
                            "eval mode)", message, abs(gap), "below" if gap > 0 else "above", self.bn_check_threshold)
        else:
            logging.info(message)
        return gap

    def batch_mode_predictions(self, data_generator):
        """``(y_true, y_pred)`` in eval mode except that every BatchNorm normalises with the batch's
        own statistics; running statistics and the RNG are left as they were."""
        self.eval()
        layers = batch_norm_layers(self)
        saved = [(layer.running_mean, layer.running_var) for layer in layers]
        for layer in layers:  # no running buffers: batch statistics, nothing updated
            layer.running_mean = layer.running_var = None
        y_true, y_pred = [], []
        try:
            with torch.no_grad():
                for batch_data in data_generator:
                    if len(self.get_labels(batch_data)) < 2:
                        continue  # batch statistics need two rows
                    y_pred.append(self.forward(batch_data)["y_pred"].reshape(-1).cpu().numpy())
                    y_true.append(self.get_labels(batch_data).reshape(-1).cpu().numpy())
        finally:
            for layer, (mean, var) in zip(layers, saved):
                layer.running_mean, layer.running_var = mean, var
        return np.concatenate(y_true).astype(np.float64), np.concatenate(y_pred).astype(np.float64)


def batch_norm_layers(model):
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

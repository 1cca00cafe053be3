import inspect

from fuxictr.pytorch.layers import FeatureEmbeddingDict
from fuxictr.pytorch.models import BaseModel

from ..config import require_positive_int, require_rate


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
    (``embedding_dim``, ``net_dropout``) and then the model's own (``check_model_params``). The
    runner calls it before any data is read; each model's ``__init__`` calls it first too.
    """

    @classmethod
    def check_params(cls, params):
        """Raise ``ValueError`` naming the first bad key of this model's config."""
        p = effective_params(cls, params)
        require_positive_int(p, "embedding_dim")
        require_rate(p, "net_dropout")
        cls.check_model_params(p)

    @classmethod
    def check_model_params(cls, p):
        """Model-specific checks on the effective params ``p``."""

    def finish_building(self, learning_rate, optimizer, loss, **unused):
        """FuxiCTR's closing steps of a model's ``__init__``: optimizer and loss, FuxiCTR's
        initialisation (xavier-normal Linear, then every ``init_weights``), device."""
        self.compile(optimizer, loss, learning_rate)
        self.reset_parameters()
        self.model_to_device()

import inspect

from fuxictr.pytorch.layers import FeatureEmbeddingDict


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

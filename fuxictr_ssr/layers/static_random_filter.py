import numpy as np
import torch
from torch import nn

INDEX_RULES = ("torch", "authors")


def draw_view_indices(input_dim, num_views, view_dim, seed):
    """Draw one fixed index set per view from a generator seeded with ``seed``.

    A view never repeats an index while ``view_dim <= input_dim``; a wider view concatenates
    several independent permutations of ``range(input_dim)``. Views may overlap.

    Returns:
        LongTensor of shape ``[num_views, view_dim]``.
    """
    generator = torch.Generator().manual_seed(seed)
    perms_per_view = -(-view_dim // input_dim)  # ceil division
    views = []
    for _ in range(num_views):
        perms = [torch.randperm(input_dim, generator=generator) for _ in range(perms_per_view)]
        views.append(torch.cat(perms)[:view_dim])
    return torch.stack(views)


def draw_view_indices_authors(input_dim, num_views, view_dim, layer_number):
    """The index rule of the authors' released SSR-S: view ``v`` of layer ``layer_number``
    (counted from 1) takes the first ``view_dim`` entries of ``numpy.random.RandomState(
    layer_number * 1000 + v)``'s permutation(s) of ``range(input_dim)``, so the sets depend on the
    layer and view only, never on the run's seed.

    Returns:
        LongTensor of shape ``[num_views, view_dim]``.
    """
    perms_per_view = -(-view_dim // input_dim)
    views = []
    for view in range(num_views):
        state = np.random.RandomState(layer_number * 1000 + view)
        views.append(np.concatenate([state.permutation(input_dim) for _ in range(perms_per_view)])[:view_dim])
    return torch.from_numpy(np.stack(views).astype(np.int64))


class StaticRandomFilter(nn.Module):
    """Fixed random selection of input dimensions for every view (the SSR-S filter).

    .. math::
        h_i = x[I_i], \\quad I_i \\subset \\{0..d_{in}-1\\},\\ |I_i| = d_v

    The index sets are drawn once from ``seed`` and kept as a buffer, so they are part of the
    state dict: a reloaded checkpoint filters exactly the same dimensions. All views are gathered
    with a single ``index_select``.

    Args:
        input_dim: d_in, width of the input vector.
        num_views: b, number of views.
        view_dim: d_v, dimensions kept per view.
        seed: seed of the generator that draws the index sets (``index_rule="torch"``), or the
            layer number counted from 1 (``"authors"``: :func:`draw_view_indices_authors`).
        index_rule: ``"torch"`` (:func:`draw_view_indices`) or ``"authors"``.

    Shape:
        input ``[B, d_in]`` -> output ``[B, b, d_v]``; ``feature_major=True``: ``[d_in, B]`` ->
        ``[b, d_v, B]`` (the gather copies whole rows).

    Example:
        >>> f = StaticRandomFilter(input_dim=100, num_views=4, view_dim=32, seed=7)
        >>> f(torch.randn(8, 100)).shape
        torch.Size([8, 4, 32])
    """

    def __init__(self, input_dim, num_views, view_dim, seed, index_rule="torch"):
        super().__init__()
        if index_rule not in INDEX_RULES:
            raise ValueError(f"index_rule must be one of {', '.join(INDEX_RULES)}, got {index_rule!r}")
        self.input_dim = input_dim
        self.num_views = num_views
        self.view_dim = view_dim
        draw = draw_view_indices if index_rule == "torch" else draw_view_indices_authors
        self.register_buffer("indices", draw(input_dim, num_views, view_dim, seed))

    def forward(self, x, feature_major=False):
        if feature_major:
            return x.index_select(0, self.indices.view(-1)).view(self.num_views, self.view_dim, x.size(1))
        gathered = x.index_select(1, self.indices.view(-1))
        return gathered.view(x.size(0), self.num_views, self.view_dim)

    def extra_repr(self):
        return f"input_dim={self.input_dim}, num_views={self.num_views}, view_dim={self.view_dim}"

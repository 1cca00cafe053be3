from torch import nn

from .iterative_competitive_sparse import IterativeCompetitiveSparse
from .straight_through_top_k import StraightThroughTopK

SPARSIFIERS = ("ics", "topk", "dropout", "none")


class CompetitiveFilter(nn.Module):
    """Learned, input-dependent filter of SSR-D: per-view projection sparsified by ICS.

    .. math::
        u_i = x W^{in}_i, \\quad g_i = \\mathrm{ICS}_i(u_i), \\quad
        h_i = g_i \\odot (x W^{val}_i) \\ \\text{(gate on)} \\quad\\text{or}\\quad h_i = g_i

    The projections of all views (and the gate's value projection) are one bias-free
    ``nn.Linear`` of width ``b * d_v`` (``2 * b * d_v`` with the gate), reshaped per view.
    For the paper's ablations the sparsifier can be replaced: ``"topk"``
    (:class:`StraightThroughTopK`, ``top_k`` entries per view), ``"dropout"`` (random zeros at rate
    ``drop_rate`` in training instead of competitive ones, nothing dropped in evaluation: "dropout
    instead of the filter") or ``"none"`` (the projection goes to the fusion dense).

    Args:
        input_dim: d_in.
        num_views: b.
        view_dim: d_v.
        iterations: ICS iterations T (0 = ReLU).
        alpha_init, gamma_init: ICS initial values.
        gate: multiply the sparse map with a second projection of x.
        sparsifier: ``"ics"`` (default), ``"topk"``, ``"dropout"`` or ``"none"``.
        top_k: entries kept per view by ``"topk"``.
        drop_rate: share of entries ``"dropout"`` zeroes in training.
        learn_gamma: ICS learns its scale gamma (``False``: fixed at ``gamma_init``).

    Shape:
        input ``[B, d_in]`` -> output ``[B, b, d_v]``; ``feature_major=True``: ``[d_in, B]`` ->
        ``[b, d_v, B]`` (one ``W x`` matmul).

    Example:
        >>> import torch
        >>> f = CompetitiveFilter(input_dim=100, num_views=4, view_dim=32, iterations=5)
        >>> f(torch.randn(8, 100)).shape
        torch.Size([8, 4, 32])
    """

    def __init__(self, input_dim, num_views, view_dim, iterations=5, alpha_init=0.1,
                 gamma_init=1.0, gate=True, sparsifier="ics", top_k=None, learn_gamma=True,
                 drop_rate=0.9):
        super().__init__()
        if sparsifier not in SPARSIFIERS:
            raise ValueError(f"sparsifier must be one of {', '.join(SPARSIFIERS)}, got {sparsifier!r}")
        self.num_views = num_views
        self.view_dim = view_dim
        self.gate = gate
        self.sparsifier = sparsifier
        num_projections = 2 if gate else 1
        self.projection = nn.Linear(input_dim, num_projections * num_views * view_dim, bias=False)
        if sparsifier == "ics":
            self.ics = IterativeCompetitiveSparse(num_views, view_dim, iterations, alpha_init, gamma_init,
                                                  learn_gamma)
        elif sparsifier == "topk":
            self.top_k = StraightThroughTopK(view_dim, top_k)
        elif sparsifier == "dropout":
            self.drop = nn.Dropout(drop_rate)

    def forward(self, x, feature_major=False):
        if feature_major:
            projected = (self.projection.weight @ x).view(-1, self.num_views, self.view_dim, x.size(1))
            sparse = self.sparsify(projected[0], feature_major)
            return sparse * projected[1] if self.gate else sparse
        projected = self.projection(x).view(x.size(0), -1, self.num_views, self.view_dim)
        sparse = self.sparsify(projected[:, 0])
        return sparse * projected[:, 1] if self.gate else sparse

    def sparsify(self, u, feature_major=False):
        if self.sparsifier == "ics":
            return self.ics(u, feature_major)
        if self.sparsifier == "topk":
            return self.top_k(u, feature_major)
        return self.drop(u) if self.sparsifier == "dropout" else u

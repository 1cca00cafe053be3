import torch
from torch import nn


class IterativeCompetitiveSparse(nn.Module):
    """Iterative Competitive Sparse activation (ICS), the SSR-D sparsifier.

    Mean-field lateral inhibition, per sample and per view:

    .. math::
        a_0 = \\mathrm{ReLU}(u), \\quad
        a_{t+1} = \\mathrm{ReLU}\\big(a_t - \\alpha_{t,i}\\, \\overline{a_t}\\big), \\quad
        \\mathrm{ICS}(u) = \\gamma_i \\odot a_T

    where :math:`\\overline{a_t}` is the mean of :math:`a_t` over the view's ``view_dim`` entries.
    Weak entries reach exactly zero and the number of survivors depends on the sample. With
    ``alpha > 0`` an entry that is zero stays zero, so survivors never grow with ``t``.
    ``iterations=0`` is ``gamma * ReLU(u)``.

    Args:
        num_views: b; every view has its own alphas and gamma.
        view_dim: d_v.
        iterations: T >= 0.
        alpha_init: initial value of every alpha (learnable, unconstrained).
        gamma_init: initial value of every gamma entry.
        learn_gamma: gamma is learned (default); ``False`` keeps it at ``gamma_init`` (a buffer:
            the paper's "without gamma" ablation).

    Shape:
        input ``[B, b, d_v]`` -> output ``[B, b, d_v]``; ``feature_major=True``: ``[b, d_v, B]``.
        Parameters: ``alpha [T, b]``, ``gamma [b, d_v]``.

    Example:
        >>> ics = IterativeCompetitiveSparse(num_views=2, view_dim=8, iterations=5)
        >>> ics(torch.randn(4, 2, 8)).shape
        torch.Size([4, 2, 8])
    """

    def __init__(self, num_views, view_dim, iterations=5, alpha_init=0.1, gamma_init=1.0, learn_gamma=True):
        super().__init__()
        self.iterations = iterations
        self.alpha_init = alpha_init
        self.gamma_init = gamma_init
        self.alpha = nn.Parameter(torch.empty(iterations, num_views))
        if learn_gamma:
            self.gamma = nn.Parameter(torch.empty(num_views, view_dim))
        else:
            self.register_buffer("gamma", torch.empty(num_views, view_dim))
        self.init_weights()

    def init_weights(self):
        nn.init.constant_(self.alpha, self.alpha_init)
        with torch.no_grad():
            self.gamma.fill_(self.gamma_init)

    def forward(self, u, feature_major=False):
        view_axis = 1 if feature_major else -1  # the d_v entries that compete
        gamma = self.gamma.unsqueeze(-1) if feature_major else self.gamma
        a = torch.relu(u)
        for t in range(self.iterations):
            alpha = self.alpha[t].view(-1, 1, 1) if feature_major else self.alpha[t].unsqueeze(-1)
            a = torch.relu(a - alpha * a.mean(dim=view_axis, keepdim=True))
        return gamma * a

    def extra_repr(self):
        return f"num_views={self.gamma.size(0)}, view_dim={self.gamma.size(1)}, iterations={self.iterations}"

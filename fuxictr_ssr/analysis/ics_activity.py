"""How sparse SSR-D's ICS maps are: surviving (non-zero) fraction per layer, and the alphas."""
import torch

from ..layers import CompetitiveFilter


def ics_layers(model):
    """``(layer index, IterativeCompetitiveSparse)`` of every SSR-D layer of ``model``."""
    layers = getattr(model, "ssr_layers", [])
    return [(depth, layer.filter.ics) for depth, layer in enumerate(layers)
            if isinstance(layer.filter, CompetitiveFilter) and layer.filter.sparsifier == "ics"]


class SurvivorMeter:
    """Context manager counting the non-zero outputs of every ICS module during forward passes.

    Example:
        >>> with SurvivorMeter(ics_layers(model)) as meter:
        ...     model.evaluate(valid_gen)
        >>> meter.fractions()   # {layer index: mean surviving fraction}
    """

    def __init__(self, layers):
        self.layers = layers
        self.counts = {depth: [0, 0] for depth, _ in layers}
        self.handles = []

    def _hook(self, depth):
        def count(module, inputs, output):
            self.counts[depth][0] += int(torch.count_nonzero(output))
            self.counts[depth][1] += output.numel()
        return count

    def __enter__(self):
        self.handles = [ics.register_forward_hook(self._hook(depth)) for depth, ics in self.layers]
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def fractions(self):
        return {depth: alive / total for depth, (alive, total) in self.counts.items() if total}


def alpha_summary(ics):
    """Per-iteration alpha, averaged over views (list of floats, one per iteration)."""
    return [round(v, 4) for v in ics.alpha.detach().mean(dim=1).tolist()]

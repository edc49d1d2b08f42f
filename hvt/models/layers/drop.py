"""Stochastic depth, written once for every family."""
import torch
from torch import nn

from hvt.registry import MODELS


def drop_path(x: torch.Tensor, drop_prob: float = 0., training: bool = False) -> torch.Tensor:
    """Zero whole samples of a residual branch with probability ``drop_prob``, rescaling the rest."""
    if drop_prob == 0. or not training:
        return x
    keep_prob = 1. - drop_prob
    shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
    mask = x.new_empty(shape).bernoulli_(keep_prob)
    return x * mask.div_(keep_prob)


@MODELS.register_module()
class DropPath(nn.Module):
    """Per-sample stochastic depth (a no-op in eval mode or when ``drop_prob`` is 0)."""

    def __init__(self, drop_prob: float = 0.):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x):
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self):
        return f'drop_prob={self.drop_prob:.3f}'


def drop_path_rates(drop_path_rate: float, depths):
    """Linearly increasing stochastic-depth rates, split per stage: ``[[r00, r01, ...], [r10, ...]]``."""
    total = sum(depths)
    rates = torch.linspace(0, drop_path_rate, total, device='cpu').tolist() if total else []
    out, start = [], 0
    for d in depths:
        out.append(rates[start:start + d])
        start += d
    return out

"""Initialisation and train-mode helpers shared by the backbones."""
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def init_vit_weights(m: nn.Module) -> None:
    """The ViT/timm initialisation, for ``module.apply``: Linear weights trunc-normal(0.02) with zero
    bias; affine norms (LayerNorm, GroupNorm, BatchNorm) weight 1 and bias 0. Other modules are
    left to their own defaults (families add their conv rule on top)."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.LayerNorm, nn.GroupNorm, _BatchNorm)):
        if m.weight is not None:
            nn.init.ones_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def set_batchnorm_eval(module: nn.Module) -> None:
    """``norm_eval``: keep every BatchNorm of ``module`` in eval mode (frozen running statistics)."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.eval()

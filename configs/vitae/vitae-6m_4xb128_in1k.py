# ViTAE-6M, ImageNet-1k from scratch at 224.
# Paper row: Table 2 "ViTAE-6M" 6.5M (code: 6,614,120 params) / 2.0 GFLOPs / 77.9 top-1.
# Recipe: no script is released; the ViTAE-T recipe (docs/design/vitae.md#imagenet-training-recipe).
_base_ = ['./vitae-t_4xb128_in1k.py']

model = dict(backbone=dict(arch='6m'))

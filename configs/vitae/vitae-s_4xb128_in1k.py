# ViTAE-S, ImageNet-1k from scratch at 224.
# Paper row: Table 2 "ViTAE-S" 23.6M / 5.6 GFLOPs / 82.0 top-1. Token widths 96,192,384 as in
# Table 1 and the current official repo (24,032,136 params;
# docs/design/vitae.md#vitae-s-token-widths). arch='s-neurips' builds
# the NeurIPS repo's 64,64,384 variant (23,191,528 params).
# Recipe: no script is released; the ViTAE-T recipe (docs/design/vitae.md#imagenet-training-recipe).
_base_ = ['./vitae-t_4xb128_in1k.py']

model = dict(backbone=dict(arch='s'), head=dict(in_channels=384))

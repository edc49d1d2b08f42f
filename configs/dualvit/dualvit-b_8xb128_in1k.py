# Dual-ViT-B, ImageNet-1k 224x224, WITHOUT token labeling (architecture-exact: 42,114,024 params).
# The paper reports Dual-ViT-B only with token labeling (dualvit-b-tl_8xb128_in1k.py: 42.6M,
# 9.3 GFLOPs, 85.2 / 97.2); this config is the same network trained with the DeiT-style recipe of
# dualvit-s_8xb128_in1k.py (no paper number). Drop path 0.15 as in the official config.
_base_ = ['./dualvit-s_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.15),
    head=dict(in_channels=512, num_heads=16),
)

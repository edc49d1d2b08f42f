# Dual-ViT-L, ImageNet-1k 224x224, WITHOUT token labeling (architecture-exact: 72,453,544 params).
# The paper reports Dual-ViT-L only with token labeling (dualvit-l-tl_8xb128_in1k.py: 73.0M,
# 18.0 GFLOPs, 85.7 / 97.4); this config is the same network trained with the DeiT-style recipe of
# dualvit-s_8xb128_in1k.py (no paper number). Official L settings: drop path 0.3, grad clip 1.0.
_base_ = ['./dualvit-s_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='l', drop_path_rate=0.3),
    head=dict(in_channels=512, num_heads=16),
)
optim_wrapper = dict(clip_grad=dict(max_norm=1.0, _delete_=True))

# Fast-iTPN-L, ImageNet-1k fine-tuning at 224 (docs/design/itpn.md#fast-itpn-backbone,
# docs/design/itpn.md#imagenet-fine-tuning-recipes).
# Paper (Tian et al., Fast-iTPN, Table IV): 312.3 M params printed (code-derived, with head:
# see tests/test_fast_itpn.py), top-1 89.5 (abstract; IN-21K intermediate fine-tuning, 640 input)
# after 1600-epoch CLIP-L-target pre-training.
# Recipe: the Fast-iTPN-B one (see its header) with the L backbone, AdamW lr 5e-5, warm-up from
# 1e-6 (start factor 0.02), layer decay 0.95, drop path 0.2.
_base_ = ['./fast-itpn-b_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.2,
                  init_cfg=dict(checkpoint='official:fast-itpn-l-clip-l_pt-1600e')),
    head=dict(in_channels=768))
optim_wrapper = dict(optimizer=dict(lr=5e-5), paramwise_cfg=dict(layer_decay_rate=0.95))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=3, end=20,
         convert_to_iter_based=True),
]

# Fast-iTPN-T, ImageNet-1k fine-tuning at 224 (docs/design/itpn.md#fast-itpn-backbone,
# docs/design/itpn.md#imagenet-fine-tuning-recipes).
# Paper (Tian et al., Fast-iTPN, Table IV): 24.2 M params printed (code-derived, with head:
# see tests/test_fast_itpn.py), top-1 85.1 after 1600-epoch CLIP-L-target pre-training.
# Recipe: the Fast-iTPN-B one (see its header) with the T backbone, 100 epochs with 5 warm-up
# epochs and layer decay 0.80.
_base_ = ['./fast-itpn-b_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='tiny',
                  init_cfg=dict(checkpoint='official:fast-itpn-t-clip-l_pt-1600e')),
    head=dict(in_channels=384))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.80))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=100)

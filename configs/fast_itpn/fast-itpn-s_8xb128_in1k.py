# Fast-iTPN-S, ImageNet-1k fine-tuning at 224 (docs/design/itpn.md#fast-itpn-backbone,
# docs/design/itpn.md#imagenet-fine-tuning-recipes).
# Paper (Tian et al., Fast-iTPN, Table IV): 40.0 M params printed (code-derived, with head:
# see tests/test_fast_itpn.py), top-1 86.4 after 1600-epoch CLIP-L-target pre-training.
# Recipe: the Fast-iTPN-T one (the B recipe with 100 epochs, 5 warm-up epochs) with the S backbone
# and layer decay 0.90.
_base_ = ['./fast-itpn-t_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='small',
                  init_cfg=dict(checkpoint='official:fast-itpn-s-clip-l_pt-1600e')))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.90))

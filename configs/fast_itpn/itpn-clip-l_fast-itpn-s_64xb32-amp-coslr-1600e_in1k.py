# Fast-iTPN-S integral pre-training with CLIP-L/14 feature targets: the Fast-iTPN-B recipe
# (see its header: docs/design/itpn.md#fast-itpn-backbone,
# docs/design/itpn.md#clip-supervised-pre-training, docs/design/itpn.md#pre-training-recipes, the
# [R] choices, and where the CLIP-L/14 teacher
# weights go) with the S backbone and pyramid widths; drop path 0.1.
_base_ = ['./itpn-clip-l_fast-itpn-b_64xb32-amp-coslr-1600e_in1k.py']

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.1),
    neck=dict(in_channels=(96, 192, 384), num_heads=6))

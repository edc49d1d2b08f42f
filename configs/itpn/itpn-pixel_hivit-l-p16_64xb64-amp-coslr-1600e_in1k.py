# iTPN-L pixel pre-training: HiViT-L 2+2+40 (C = 768, 12 heads; 287,373,120 backbone params),
# pyramid in_channels (192, 384, 768); otherwise identical to the B recipe
# (docs/design/itpn.md#pre-training-recipes).
_base_ = ['./itpn-pixel_hivit-b-p16_64xb64-amp-coslr-1600e_in1k.py']

model = dict(
    backbone=dict(arch='l'),
    neck=dict(in_channels=(192, 384, 768)),
)

# ImageNet-1k fine-tuning of CLIP-pre-trained iTPN-B (official code values,
# docs/design/itpn.md#imagenet-fine-tuning-recipes):
# lr 5e-4 at 1024, layer decay 0.60 rescaled, drop path 0.1, 20 warm-up epochs, layer scale 0.1.
# Paper: 85.9 (300e) / 86.2 (800e) top-1.
_base_ = ['./itpn-hivit-b-p16_pixel-pre_8xb128-coslr-100e_in1k.py']

model = dict(
    backbone=dict(
        drop_path_rate=0.1, layer_scale_init_value=0.1,
        init_cfg=dict(checkpoint='work_dirs/itpn-clip-b_hivit-b/epoch_800.pth')),
)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=20, end=100,
         convert_to_iter_based=True),
]

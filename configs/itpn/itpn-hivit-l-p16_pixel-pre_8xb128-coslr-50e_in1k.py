# ImageNet-1k fine-tuning of pixel-pre-trained iTPN-L
# (docs/design/itpn.md#imagenet-fine-tuning-recipes, official code values):
# 50 epochs, base lr 1e-3 per 256 (4e-3 at 1024), layer decay 0.55 rescaled (0.55 ** (13 / 45)),
# drop path 0.2, 5 warm-up epochs; 288,493,576 params. Paper: 86.3 (400e) / 86.7 (1600e) top-1.
_base_ = ['./itpn-hivit-b-p16_pixel-pre_8xb128-coslr-100e_in1k.py']

model = dict(
    backbone=dict(
        arch='l', drop_path_rate=0.2,
        init_cfg=dict(checkpoint='work_dirs/itpn-pixel_hivit-l/epoch_1600.pth')),
    head=dict(in_channels=768),
)
optim_wrapper = dict(
    optimizer=dict(lr=1e-3 * 1024 / 256),
    paramwise_cfg=dict(layer_decay_rate=0.55),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=50,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=50)

# ViTAE-L (patch 16), ImageNet-1k fine-tuning after MAE pre-training.
# Paper row: Table 6 "ViTAE-L" 311M (code: 311,724,008 params) / 224 / 86.0 top-1 (MAE, IN-1k).
# Recipe (docs/design/vitae.md#fine-tuning-of-the-scaled-up-models): 50 fine-tuning epochs with
# layer-wise lr decay; other values from
# MAE's ViT-L recipe (assumed): blr 1e-3 x 1024 / 256, layer decay 0.75, drop path 0.2.
# Activation checkpointing of every NC (with_cp) keeps the memory in check.
_base_ = ['./vitae-b-p16_8xb128_in1k.py']

model = dict(backbone=dict(arch='l', drop_path_rate=0.2, with_cp=True),
             head=dict(in_channels=1024))
optim_wrapper = dict(optimizer=dict(lr=1e-3 * 1024 / 256), paramwise_cfg=dict(layer_decay_rate=0.75))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=50,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=50)

# ViTAE-B (patch 16), ImageNet-1k fine-tuning after MAE pre-training.
# Paper row: Table 6 "ViTAE-B" 89M (code: 89,341,672 params) / 224 / 83.8 top-1 (MAE, IN-1k).
# Recipe (docs/design/vitae.md#fine-tuning-of-the-scaled-up-models): 1600-epoch MAE pre-training
# with 1x1 PCM kernels, zero-padded to 3x3
# (tools/model_converters/vitae2hvt.py --pad-pcm), then 100 fine-tuning epochs
# (docs/design/vitae.md#fine-tuning-of-the-scaled-up-models) with
# BEiT-style layer-wise lr decay. The paper gives no other values; the rest is MAE's ViT-B
# fine-tuning recipe (assumed): AdamW blr 5e-4 x 1024 / 256, wd 0.05, layer decay 0.65, drop
# path 0.1, 5 warm-up epochs, cosine to 1e-6, RandAugment m9-mstd0.5-inc1, random erasing 0.25,
# Mixup 0.8 / CutMix 1.0, label smoothing 0.1, no EMA.
# Head: mean of the patch tokens -> fc_norm -> Linear (the official B/L/H classifier).
_base_ = [
    '../_base_/models/image-classifier.py', '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        _delete_=True, type='hvt.ViTAE', arch='b', img_size=224, out_type='avg_featmap',
        drop_path_rate=0.1,
        # init_cfg=dict(type='Pretrained', checkpoint='<MAE pre-trained ViTAE-B>'),
    ),
    neck=None,
    head=dict(in_channels=768))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4 * 1024 / 256, weight_decay=0.05, betas=(0.9, 0.999)),
    constructor='hvt.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.65),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
auto_scale_lr = dict(base_batch_size=1024)

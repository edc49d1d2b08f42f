# ImageNet-1k fine-tuning of pixel-pre-trained iTPN-B
# (docs/design/itpn.md#imagenet-fine-tuning-recipes, official code values):
# 100 epochs, batch 1024 (8 x 128), AdamW base lr 4e-4 per 256 (1.6e-3), wd 0.05, betas (0.9, 0.999),
# 5 warm-up epochs, cosine to 1e-6, layer decay 0.60 RESCALED as in the official code
# (per-layer factor 0.60 ** (13 / 31); merges share the id of the block before them),
# drop path 0.15, Mixup 0.8 / CutMix 1.0, label smoothing 0.1, random erasing 0.25, rpe on
# (tables start at zero), mean pooling + fc_norm + linear head: 78,557,992 params.
# Paper: 85.1 (400e) / 85.5 (1600e) top-1.
# Set `model.backbone.init_cfg.checkpoint` to a pre-training checkpoint (HVT `iTPNPretrain`, or an
# official one converted with tools/model_converters/itpn2hvt.py).
_base_ = [
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='hvt.HiViT', arch='b', img_size=224, ape=True, rpe=True, out_type='avg_featmap',
        drop_path_rate=0.15,
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/itpn-pixel_hivit-b/epoch_1600.pth',
                      prefix='backbone.')),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=2e-5)]),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-4 * 1024 / 256, weight_decay=0.05, betas=(0.9, 0.999)),
    constructor='hvt.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.60, layer_decay_mode='official',
                       layer_decay_rescale=True),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
auto_scale_lr = dict(base_batch_size=1024)

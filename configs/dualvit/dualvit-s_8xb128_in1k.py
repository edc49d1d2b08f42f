# Dual-ViT-S, ImageNet-1k 224x224, trained WITHOUT token labeling.
# Paper (Yao et al., "Dual Vision Transformer", Table 2): Dual-ViT-S 24.6M params (exact
# 24,605,000), 4.8 GFLOPs (repo counter; 5.38 fvcore-style), top-1 83.4 / top-5 96.5.
# Recipe: the official repo's DeiT-style path (classification/main.py,
# docs/design/dualvit.md#imagenet-training-recipe): AdamW lr 1e-3 at
# batch 1024 (8 x 128), wd 0.05 with no decay on 1-D params, 5 warm-up epochs from 1e-6, cosine to
# 1e-5 over 300 epochs + 10 cool-down epochs (310), drop path 0.15, no grad clipping, RandAugment
# m9-mstd0.5, random erasing 0.25, Mixup 0.8 / CutMix 1.0 (switch 0.5), label smoothing 0.1,
# repeated augmentation; eval resize 233 (crop_pct 0.96) + center crop 224, bicubic.
_base_ = [
    '../_base_/models/dualvit/dualvit-s.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(drop_path_rate=0.15),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=233, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, sampler=dict(type='RepeatAugSampler', shuffle=True))
val_dataloader = dict(batch_size=128, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    clip_grad=None,
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    # cosine over epochs 5..300, then the lr stays at 1e-5 for the 10 cool-down epochs
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5, end=300,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=310, val_interval=1)
auto_scale_lr = dict(base_batch_size=1024)

# ViTAEv2-S, ImageNet-1k from scratch at 224.
# Paper row: Table 2 "ViTAEv2-S" 19.2M (code: 19,355,688 params) / 5.7 GFLOPs / 82.6 top-1.
# Recipe (docs/design/vitae.md#imagenet-training-recipe: official main.py defaults +
# training_scripts/ViTAEv2_S.sh + logs):
#   AdamW lr 5e-4 x total_batch / 512 (= 1e-3 at 1024, 16x64 or 8x128), wd 0.05, no decay on 1-D
#   params / cls_token / pos_embed; warm-up 10 epochs from 1e-6 and cosine to 1e-5 (per-epoch
#   steps, as timm), 300 epochs + 10 cool-down epochs at 1e-5; RandAugment m9-mstd0.5-inc1,
#   random erasing 0.25, Mixup 0.8 / CutMix 1.0, label smoothing 0.1; drop path 0.1, no dropout,
#   no gradient clipping; EMA 0.99996^(1024 // 512); test resize 248 (crop_pct 0.9) + crop 224.
_base_ = [
    '../_base_/models/image-classifier.py', '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(_delete_=True, type='hvt.ViTAEv2', arch='s', out_indices=(3, ),
                  drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=248, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=10),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10, end=300, T_max=290),
]
train_cfg = dict(by_epoch=True, max_epochs=310, val_interval=1)
auto_scale_lr = dict(base_batch_size=1024)

# timm ModelEmaV2 decay 0.99996 ** (1024 // 512); mmengine's momentum is 1 - decay.
custom_hooks = [dict(type='EMAHook', momentum=1 - 0.99996**2, priority='ABOVE_NORMAL')]

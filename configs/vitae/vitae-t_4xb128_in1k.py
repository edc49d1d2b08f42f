# ViTAE-T, ImageNet-1k from scratch at 224.
# Paper row: Table 2 "ViTAE-T" 4.8M (code: 4,886,888 params incl. 4,096 frozen Performer
# features) / 1.5 GFLOPs / 75.3 top-1.
# Recipe (docs/design/vitae.md#imagenet-training-recipe, ViTAE README + main.py defaults): 4 GPUs x
# 128 (total 512), AdamW
# lr 1e-3 at 512 (lr x batch / 512), wd 0.03, no decay on 1-D params; warm-up 10 epochs from
# 1e-6, cosine to 1e-5 (per-epoch steps, as timm), 300 + 10 cool-down epochs; RandAugment
# m9-mstd0.5-inc1, random erasing 0.25, Mixup 0.8 / CutMix 1.0, label smoothing 0.1; drop path
# 0.1; EMA 0.99996; test resize 248 (crop_pct 0.9) + crop 224.
# Architecture per the official code
# (docs/design/vitae.md#where-the-paper-and-the-official-code-disagree): mean-pooled tokens, no
# class token, no
# position embedding, no final norm; RC3 is the PRM alone.
_base_ = [
    '../_base_/models/image-classifier.py', '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(_delete_=True, type='hvt.ViTAE', arch='t', out_indices=(2, ),
                  drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),  # = the official mean over all tokens
    head=dict(in_channels=256))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=248, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.03), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=10),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10, end=300, T_max=290),
]
train_cfg = dict(by_epoch=True, max_epochs=310, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)

# timm ModelEmaV2 decay 0.99996 ** (512 // 512); mmengine's momentum is 1 - decay.
custom_hooks = [dict(type='EMAHook', momentum=1 - 0.99996, priority='ABOVE_NORMAL')]

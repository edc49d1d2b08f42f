# ViTAE-S fine-tuned at 384 from the 224 ImageNet-1k model.
# Paper row: Table 2 "ViTAE-S↑384" 23.6M / 20.2 GFLOPs / 83.0 top-1.
# The paper and the official repo give no 384 fine-tuning recipe
# (docs/design/vitae.md#no-384-fine-tuning-recipe);
# this uses the common Swin/DeiT 384 fine-tune: 30 epochs, AdamW lr 2e-5 x batch / 512,
# weight decay 1e-8, 5 linear warm-up epochs, cosine to 2e-7. The cells run at any size, so the
# model is unchanged. Set `load_from` to the 224 checkpoint.
_base_ = ['./vitae-s_4xb128_in1k.py']

# the pipelines of configs/_base_/datasets/imagenet_bs64_swin_384.py
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=[103.53, 116.28, 123.675],
         fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=384, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=2e-5, weight_decay=1e-8), clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=2e-7, by_epoch=True, begin=5, end=30, T_max=25,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)
load_from = None  # path to the 224 ViTAE-S checkpoint

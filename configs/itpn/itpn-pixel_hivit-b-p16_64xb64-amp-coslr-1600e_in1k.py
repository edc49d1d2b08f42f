# iTPN-B pixel pre-training (MAE-style masking + integrally pre-trained pyramid + MFM).
# Recipe (docs/design/itpn.md#pixel-pre-training,
# docs/design/itpn.md#masked-feature-modeling-with-an-ema-teacher,
# docs/design/itpn.md#pre-training-recipes): 224 input, 75% random masking (49 of 196 patches kept),
# normalised-pixel MSE on masked patches, decoder 512-d x 8 blocks (official; mmpretrain uses 6),
# pyramid fpn_dim 256 / fpn_depth 2; multi-stage masked feature modeling with an EMA teacher
# (lambda 0.3, momentum 0.996, [R] teacher on the visible patches: switch mfm.teacher_input).
# AdamW base lr 1.5e-4 per 256 images (2.4e-3 at batch 4096 = 64 GPUs x 64), betas (0.9, 0.95),
# wd 0.05, 40 warm-up epochs then cosine to 0; 1600 epochs (the paper also reports 400).
# Model: iTPN-B 3+3+24 (77,904,000 backbone params), ape = trainable 2-D sin-cos, no rpe.
_base_ = ['../_base_/default_runtime.py']

model = dict(
    type='hvt.iTPNPretrain',
    target='pixel',
    mask_ratio=0.75,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='hvt.HiViT', arch='b', img_size=224, ape=True, ape_init='sincos', rpe=False,
        drop_path_rate=0.0),
    neck=dict(
        type='hvt.iTPNPixelNeck', in_channels=(128, 256, 512), fpn_dim=256, fpn_depth=2,
        num_patches=196, patch_size=16, decoder_embed_dim=512, decoder_depth=8,
        decoder_num_heads=16),
    head=dict(
        type='MAEPretrainHead', norm_pix=True, patch_size=16,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    mfm=dict(loss_weight=0.3, momentum=0.996, teacher_input='visible'),
)

# dataset: ImageNet-1k train split, random resized crop (0.2, 1) + flip, as MAE / mmpretrain
dataset_type = 'ImageNet'
data_root = 'data/imagenet'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='meta/train.txt',
                 data_prefix='train', pipeline=train_pipeline))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'norm': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'absolute_pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=1560, eta_min=0.0, by_epoch=True, begin=40, end=1600,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1600)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='hvt.SafeCheckpointHook', interval=1, max_keep_ckpts=3))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=4096)

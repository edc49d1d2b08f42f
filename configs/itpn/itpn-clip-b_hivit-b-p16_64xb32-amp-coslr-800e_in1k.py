# iTPN-B pre-trained with CLIP-B/16 features (docs/design/itpn.md#clip-supervised-pre-training,
# docs/design/itpn.md#pre-training-recipes):
# BEiT block masking (75 of 196 patches, stage-3 mask token), rpe on, layer scale 0.1,
# drop path 0.1, pyramid fpn_depth 1, fusion -> norm -> lm_head (512 = CLIP-B width) plus the aux
# branch (2 blocks on the output of stage-3 block 18), smooth-L1 on all tokens, LN'ed targets.
# Optimiser (official code): batch 2048 (64 x 32), lr 1.5e-3, betas (0.9, 0.98), eps 1e-8,
# wd 0.05, 5 warm-up epochs, cosine to 1e-5; clip grad 3.0 (mmpretrain). 800 epochs (also 300).
# Teacher: mmpretrain's CLIPGenerator; `tokenizer_path` names OpenAI's CLIP ViT-B/16
# (official:clip-vit-b-16: fetched on first use, its TorchScript archive unpacked by
# tools/model_converters/clip2hvt.py). Teacher view: 224 px, CLIP mean/std
# (TwoNormDataPreprocessor).
_base_ = ['../_base_/default_runtime.py']

model = dict(
    type='hvt.iTPNPretrain',
    target='clip',
    clip_mask=dict(num_masking_patches=75, min_num_patches=16),
    clip_loss='smooth_l1',
    clip_loss_tokens='all',
    data_preprocessor=dict(
        type='TwoNormDataPreprocessor',
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        # teacher view: CLIP mean / std on 0-255 inputs (docs/design/itpn.md#clip-teachers)
        second_mean=(122.7709383, 116.7460125, 104.09373615),
        second_std=(68.5005327, 66.6321579, 70.32316305),
        to_rgb=True),
    backbone=dict(
        type='hvt.HiViT', arch='b', img_size=224, ape=True, ape_init='trunc_normal', rpe=True,
        use_mask_token=True, layer_scale_init_value=0.1, drop_path_rate=0.1),
    neck=dict(
        type='hvt.iTPNClipNeck', in_channels=(128, 256, 512), fpn_dim=256, fpn_depth=1,
        teacher_dim=512, num_heads=8, aux_depth=2, rpe_grid=(14, 14),
        layer_scale_init_value=0.1),
    target_generator=dict(
        type='hvt.FeatureTeacher',
        model=dict(type='mmpretrain.CLIPGenerator', tokenizer_path='official:clip-vit-b-16'),
        output_index=0, drop_cls_token=True, input_size=224, norm_target=True),
)

dataset_type = 'ImageNet'
data_root = 'data/imagenet'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomResizedCropAndInterpolationWithTwoPic', size=224, second_size=224,
         interpolation='bicubic', second_interpolation='bicubic', scale=(0.2, 1.0)),
    dict(type='BEiTMaskGenerator', input_size=(14, 14), num_masking_patches=75,
         max_num_patches=75, min_num_patches=16),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='meta/train.txt',
                 data_prefix='train', pipeline=train_pipeline))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.05),
    clip_grad=dict(max_norm=3.0),
    paramwise_cfg=dict(
        custom_keys={
            'norm': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'gamma': dict(decay_mult=0.0),
            'absolute_pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5, end=800,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=800)
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=2048)

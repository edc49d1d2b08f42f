# Fast-iTPN-B integral pre-training with CLIP-L/14 feature targets
# (docs/design/itpn.md#fast-itpn-backbone, docs/design/itpn.md#clip-supervised-pre-training,
# docs/design/itpn.md#pre-training-recipes "Fast-iTPN"): like iTPN-CLIP but 1600 epochs, a CLIP-L/14
# teacher for every size (196 px
# teacher view, so its 14x14 tokens match the 196 student patches; 768-d targets, LN'ed) and the
# cosine-similarity loss (paper Sec. 3.4). No official pre-training code exists; [R] choices: the
# BEiT block mask (75 of 196 patches) is applied at the patch embed with Fast-iTPN's per-patch
# mask token (ConvPatchEmbed, docs/design/itpn.md#clip-supervised-pre-training); pyramid fpn_depth 1
# (as iTPN-CLIP); no aux branch
# (the paper does not describe one for Fast-iTPN); drop path 0.1; loss on all tokens.
# Teacher: OpenAI's CLIP ViT-L/14, official:clip-vit-l-14 (fetched on first use).
_base_ = ['../itpn/itpn-clip-b_hivit-b-p16_64xb32-amp-coslr-800e_in1k.py']

model = dict(
    clip_loss='cosine',
    clip_loss_tokens='all',
    backbone=dict(
        _delete_=True, type='hvt.FastiTPN', arch='base', img_size=224, use_mask_token=True,
        layer_scale_init_value=0.1, drop_path_rate=0.1),
    neck=dict(in_channels=(128, 256, 512), teacher_dim=768, num_heads=8, aux_depth=0),
    target_generator=dict(
        model=dict(tokenizer_path='official:clip-vit-l-14'), input_size=196),
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomResizedCropAndInterpolationWithTwoPic', size=224, second_size=196,
         interpolation='bicubic', second_interpolation='bicubic', scale=(0.2, 1.0)),
    dict(type='BEiTMaskGenerator', input_size=(14, 14), num_masking_patches=75,
         max_num_patches=75, min_num_patches=16),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'pos_embed': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5, end=1600,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1600)

# iTPN-L pre-trained with CLIP-L/14 features (docs/design/itpn.md#clip-teachers,
# docs/design/itpn.md#clip-supervised-pre-training, docs/design/itpn.md#pre-training-recipes): the
# CLIP-L/14
# teacher sees a 196 px view so its 14x14 tokens match the 196 student patches; target width 768;
# drop path 0.2; aux branch on the output of stage-3 block 30. 300 epochs.
_base_ = ['./itpn-clip-b_hivit-b-p16_64xb32-amp-coslr-800e_in1k.py']

model = dict(
    backbone=dict(arch='l', drop_path_rate=0.2),
    neck=dict(in_channels=(192, 384, 768), teacher_dim=768, num_heads=12),
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
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5, end=300,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300)

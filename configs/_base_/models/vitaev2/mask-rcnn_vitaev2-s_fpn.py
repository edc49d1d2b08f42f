# Mask R-CNN + FPN with a ViTAEv2-S backbone (docs/design/vitae.md#dense-prediction-backbone,
# docs/design/vitae.md#downstream-recipes; official mmdet configs):
# four NCHW maps at strides 4-32 with 64/128/256/512 channels, no output norms, PCM BatchNorms left
# in training mode (frozen_stages=-1, norm_eval=False), drop path 0.1. The backbone needs inputs
# padded to a multiple of 32 (the data preprocessor's pad_size_divisor=32).
# Pretrained: official:vitaev2-s_in1k, the official ImageNet checkpoint converted by vitae2hvt
# (EMA weights; the classifier's backbone.* keys).
_base_ = ['../mask-rcnn_r50_fpn.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.ViTAEv2', arch='s', out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1, frozen_stages=-1, norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='official:vitaev2-s_in1k',
                      prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512]))

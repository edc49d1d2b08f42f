# GFL + FPN (start_level 1, extra convs on the output, P3-P7) with a Dual-ViT-S backbone
# (docs/design/dualvit.md#coco-detection-recipes).
# Dual-ViT-S in dense mode (docs/design/dualvit.md#dense-prediction-backbone): four stage-normed
# NCHW maps at strides 4-32
# with 64/128/320/448 channels (the last Merge block drops the semantic tokens), drop path 0.15,
# stem BatchNorm affine parameters frozen as in the official mmdet backbone. Pretrained: the
# official ImageNet backbone, official:dualvit-s_dense-pretrained (dualvit2hvt --mode dense).
_base_ = ['../gfl_r50_fpn.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.DualViT', arch='s', mode='dense', out_indices=(0, 1, 2, 3),
        drop_path_rate=0.15, stem_norm_cfg=dict(type='BN', requires_grad=False),
        init_cfg=dict(type='Pretrained', checkpoint='official:dualvit-s_dense-pretrained')),
    neck=dict(in_channels=[64, 128, 320, 448], start_level=1, add_extra_convs='on_output'))

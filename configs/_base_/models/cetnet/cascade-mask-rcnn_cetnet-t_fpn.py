# Cascade Mask R-CNN (4conv1fc SyncBN heads, GIoU 10) + FPN with a CETNet-T backbone.
# CETNet-T backbone (docs/design/cetnet.md#dense-prediction-backbone): four NCHW maps at strides
# 4-32 (64/128/256/512 channels),
# each after its own LayerNorm (Swin convention); any input size (windows padded to 7).
# Pretrained: an HVT/mmpretrain ImageNet checkpoint of cetnet-t_8xb128_in1k.py (backbone.* keys).
_base_ = ['../cascade-mask-rcnn_r50_fpn.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.CETNet', arch='t', out_indices=(0, 1, 2, 3), out_norm=True,
        drop_path_rate=0.2, frozen_stages=-1, norm_eval=False,
        # no official CETNet weights are published: train cetnet-t_8xb128_in1k.py first
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/cetnet-t_in1k.pth',
                      prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512]))

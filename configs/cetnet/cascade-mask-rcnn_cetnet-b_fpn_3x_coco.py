# CETNet-B Cascade Mask R-CNN 3x, COCO val2017. No paper row (CETNet reports only Mask R-CNN);
# same ViTAEv2-style recipe as cascade-mask-rcnn_cetnet-t_fpn_3x_coco.py, drop path 0.3.
_base_ = ['./cascade-mask-rcnn_cetnet-t_fpn_3x_coco.py']
model = dict(
    backbone=dict(arch='b', drop_path_rate=0.3,
                  # no official CETNet weights are published: train cetnet-b_8xb128_in1k.py first
                  init_cfg=dict(checkpoint='checkpoints/cetnet-b_in1k.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

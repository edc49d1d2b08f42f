# CETNet-S Cascade Mask R-CNN 3x, COCO val2017. No paper row (CETNet reports only Mask R-CNN);
# same ViTAEv2-style recipe as cascade-mask-rcnn_cetnet-t_fpn_3x_coco.py, drop path 0.2.
_base_ = ['./cascade-mask-rcnn_cetnet-t_fpn_3x_coco.py']
model = dict(
    backbone=dict(arch='s', drop_path_rate=0.2,
                  # no official CETNet weights are published: train cetnet-s_8xb128_in1k.py first
                  init_cfg=dict(checkpoint='checkpoints/cetnet-s_in1k.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))

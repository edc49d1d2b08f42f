# CETNet-S Mask R-CNN 3x, COCO val2017. Paper: CETNet Table 2, "CETNet-S", 3x: APb 48.6 / APm 43.0.
# Same recipe as mask-rcnn_cetnet-t_fpn_3x_coco.py; backbone drop path 0.2 (HVT assumption,
# docs/design/cetnet.md#coco-recipe).
_base_ = ['./mask-rcnn_cetnet-t_fpn_3x_coco.py']
model = dict(
    backbone=dict(arch='s', drop_path_rate=0.2,
                  # no official CETNet weights are published: train cetnet-s_8xb128_in1k.py first
                  init_cfg=dict(checkpoint='checkpoints/cetnet-s_in1k.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))

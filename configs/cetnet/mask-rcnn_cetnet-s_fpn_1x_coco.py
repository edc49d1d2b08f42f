# CETNet-S Mask R-CNN 1x, COCO val2017. Paper: CETNet Table 2, "CETNet-S", 1x: APb 46.6 / APm 41.6 (53M params).
# Same recipe as mask-rcnn_cetnet-t_fpn_1x_coco.py; backbone drop path 0.2 (HVT assumption,
# docs/design/cetnet.md#coco-recipe).
_base_ = ['./mask-rcnn_cetnet-t_fpn_1x_coco.py']
model = dict(
    backbone=dict(arch='s', drop_path_rate=0.2,
                  # no official CETNet weights are published: train cetnet-s_8xb128_in1k.py first
                  init_cfg=dict(checkpoint='checkpoints/cetnet-s_in1k.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))

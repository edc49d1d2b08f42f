# CETNet-B Mask R-CNN 1x, COCO val2017. Paper: CETNet Table 2, "CETNet-B", 1x: APb 47.9 / APm 42.5 (94M params).
# Same recipe as mask-rcnn_cetnet-t_fpn_1x_coco.py; backbone drop path 0.3 (HVT assumption,
# docs/design/cetnet.md#coco-recipe).
_base_ = ['./mask-rcnn_cetnet-t_fpn_1x_coco.py']
model = dict(
    backbone=dict(arch='b', drop_path_rate=0.3,
                  # no official CETNet weights are published: train cetnet-b_8xb128_in1k.py first
                  init_cfg=dict(checkpoint='checkpoints/cetnet-b_in1k.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

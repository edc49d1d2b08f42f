# Mask R-CNN R-18 FPN 1x on COCO: the pipeline's reference detector (mmdet's ResNet), not an HVT
# model. Add init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18') to the backbone
# for a real run.
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn.py', '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/det_runtime.py'
]
model = dict(backbone=dict(depth=18, init_cfg=None), neck=dict(in_channels=[64, 128, 256, 512]))

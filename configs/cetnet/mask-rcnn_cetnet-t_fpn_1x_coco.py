# CETNet-T Mask R-CNN 1x, COCO val2017. Paper: CETNet (ECCV 2022) Table 2, "CETNet-T", 1x:
# APb 45.5 / APm 40.7 (43M params, 261G FLOPs).
# Recipe (docs/design/cetnet.md#coco-recipe): DETR-style multi-scale + crop training for both
# schedules (the text
# says multi-scale; docs/design/cetnet.md#coco-recipe), single-scale 1333x800 test; AdamW lr 1e-4,
# weight decay 0.05, none on
# norms / relative_position_bias_table; 12 epochs, steps at 8 and 11, 1000-iter linear warm-up
# (mmdet Swin config, assumption); batch 16 (8 GPUs x 2).
_base_ = [
    '../_base_/models/cetnet/mask-rcnn_cetnet-t_fpn.py',
    '../_base_/datasets/coco_instance_ms-crop.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/det_runtime.py'
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.),
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]

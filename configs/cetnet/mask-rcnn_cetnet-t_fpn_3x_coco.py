# CETNet-T Mask R-CNN 3x, COCO val2017. Paper: CETNet Table 2, "CETNet-T", 3x: APb 46.9 / APm 41.6.
# Recipe as the 1x config with 36 epochs, steps at 27 and 33.
_base_ = ['./mask-rcnn_cetnet-t_fpn_1x_coco.py']
train_cfg = dict(max_epochs=36)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]

# ViTAEv2-S Mask R-CNN 3x, COCO val2017. Paper: ViTAEv2 Table 11, "Mask R-CNN 3x, ViTAEv2-S":
# APb 47.8 / APm 42.6 (37M params); official log 0.478 / 0.426.
# Recipe as the 1x config with weight decay 0.05 and 36 epochs (steps at 27 and 33).
_base_ = ['./mask-rcnn_vitaev2-s_fpn_1x_coco.py']
optim_wrapper = dict(optimizer=dict(weight_decay=0.05))
train_cfg = dict(max_epochs=36)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]

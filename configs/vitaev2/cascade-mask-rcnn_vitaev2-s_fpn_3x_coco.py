# ViTAEv2-S Cascade Mask R-CNN 3x, COCO val2017. Paper: ViTAEv2 Table 11, "Cascade Mask R-CNN 3x,
# ViTAEv2-S": APb 51.4 / APm 44.5 (75M params); official log 0.514 / 0.445.
# Recipe: weight decay 0.05, 36 epochs (steps 27, 33). The official run used apex AMP (add --amp
# on GPUs).
_base_ = ['./cascade-mask-rcnn_vitaev2-s_fpn_1x_coco.py']
optim_wrapper = dict(optimizer=dict(weight_decay=0.05))
train_cfg = dict(max_epochs=36)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]

# Fast-iTPN-B Mask R-CNN 1x, COCO val2017. Paper: Fast-iTPN §5.4.1 / Fig. 5, "baseline (no
# migration, no gathering)": mAP 53.4.
# Recipe: the iTPN-B Mask R-CNN 1x recipe (spec §4.3; ../itpn/mask-rcnn_itpn-b-pixel_1x_coco.py):
# DETR-style multi-scale + crop, AdamW lr 2e-4, weight decay 0.05, layer decay 0.90 (Fast-iTPN
# numbering), 12 epochs with steps at 9 and 11, 500-iter warm-up; drop path 0.1.
_base_ = [
    '../_base_/models/fast_itpn/mask-rcnn_fast-itpn-b.py',
    '../_base_/datasets/coco_instance_ms-crop.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/det_runtime.py'
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='hvt.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[9, 11], gamma=0.1),
]

# iTPN-B (pixel pre-training, 1600 epochs) Mask R-CNN 1x, COCO val2017. Paper: iTPN (CVPR 2023 /
# Fast-iTPN TPAMI) Table V, "iTPN HiViT-B, pixel, 1600e", MR 1x: APb 53.0 / APm 46.5 (CLIP-B
# pre-training row: 53.2 / 46.6; Table VIII, 400e pixel, pyramid loaded: 52.1).
# Recipe (docs/design/itpn.md#coco-recipes, official pixel_itpn_base_1x_ld090_dp005): DETR-style
# multi-scale +
# crop training, single-scale test; AdamW lr 2e-4, betas (0.9, 0.999), weight decay 0.05 (none on
# 1-D parameters, position embeddings, rpe tables) with layer-wise lr decay 0.90 (HiViT blocks
# numbered as the official code: merges share the previous block's id); drop path 0.05;
# 12 epochs, steps at 9 and 11, 500-iter warm-up; 32 GPUs x 2 images (AMP officially).
_base_ = [
    '../_base_/models/itpn/mask-rcnn_itpn-b.py', '../_base_/datasets/coco_instance_ms-crop.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/det_runtime.py'
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='hvt.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9, layer_decay_mode='official'))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[9, 11], gamma=0.1),
]
auto_scale_lr = dict(base_batch_size=64)

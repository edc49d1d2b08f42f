# Fast-iTPN-B DINO 4-scale 12 epochs, COCO val2017. Paper: Fast-iTPN (TPAMI 2024) Table VI,
# "Fast-iTPN-B, IN1K CLIP-L 1600e, DINO, 12 epochs": box AP 58.4 (no acceleration).
# Recipe: no official config (docs/design/itpn.md#fast-itpn-downstream-configs). mmdet's DINO 12e
# recipe (DETR-style multi-scale + crop,
# AdamW lr 1e-4, gradient clipping 0.1, step at epoch 11, batch 16) with the iTPN COCO backbone
# treatment (docs/design/itpn.md#coco-recipes) instead of DINO's backbone lr x0.1: weight decay 0.05
# and layer-wise lr
# decay 0.90 (Fast-iTPN numbering, merges counted), no decay on 1-D parameters / pos_embed.
_base_ = [
    '../_base_/models/fast_itpn/dino-4scale_fast-itpn-b.py',
    '../_base_/datasets/coco_detection_ms-crop.py', '../_base_/det_runtime.py'
]
train_dataloader = dict(dataset=dict(filter_cfg=dict(filter_empty_gt=False)))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    constructor='hvt.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9))
max_epochs = 12
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[11], gamma=0.1)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)

# Fast-iTPN-B UperNet 160k, ADE20K val. Paper: Fast-iTPN Table VI, "Fast-iTPN-B, IN1K CLIP-L 1600e,
# UPerNet": mIoU 55.8 (no acceleration).
# Recipe: no official config; the iTPN ADE20K recipe (docs/design/itpn.md#ade20k-recipe): 512x512
# crops, AdamW lr 3e-5,
# weight decay 0.05, layer decay 0.90 (Fast-iTPN numbering), 1500-iter warm-up from 1e-6 then poly
# 1.0 to 0, 160k iterations, 8 GPUs x 2 images; drop path 0.1; sliding-window test 512 / 341.
_base_ = [
    '../_base_/models/fast_itpn/upernet_fast-itpn-b.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_160k.py', '../_base_/seg_runtime.py'
]
train_dataloader = dict(batch_size=2)
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='hvt.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]

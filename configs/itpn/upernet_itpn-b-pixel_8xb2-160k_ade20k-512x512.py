# iTPN-B (pixel pre-training, 1600 epochs) UperNet 160k, ADE20K val. Paper: iTPN Table V,
# "iTPN HiViT-B, pixel, 1600e": mIoU 53.5 (CLIP-B row: 54.7, with drop path 0.2 and layer scale 0.1).
# Recipe (docs/design/itpn.md#ade20k-recipe, BEiT recipe): 512x512 crops; AdamW lr 3e-5, weight
# decay 0.05 (none on
# 1-D parameters / position embeddings / rpe tables), layer decay 0.90; 1500-iter linear warm-up
# from 1e-6, then poly power 1.0 to 0; 160k iterations, 8 GPUs x 2 images (AMP officially);
# drop path 0.1; single-scale sliding-window test (crop 512, stride 341).
_base_ = [
    '../_base_/models/itpn/upernet_itpn-b.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_160k.py', '../_base_/seg_runtime.py'
]
train_dataloader = dict(batch_size=2)
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='hvt.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9, layer_decay_mode='official'))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]

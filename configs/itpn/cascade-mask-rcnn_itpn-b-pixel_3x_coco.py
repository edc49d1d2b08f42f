# iTPN-B (pixel pre-training, 1600 epochs) Cascade Mask R-CNN 3x, COCO val2017. Paper: iTPN
# Table V, "iTPN HiViT-B, pixel, 1600e", CMR 3x: APb 56.0 / APm 48.5 (CLIP-B row: 56.1 / 48.6; the
# caption's "1x" is a typo, docs/design/itpn.md#coco-recipes).
# Recipe (official cascade_pixel_itpn_base_3x): DETR-style multi-scale + crop; AdamW lr 1e-4,
# weight decay 0.05, layer decay 0.90; drop path 0.2; 36 epochs, steps at 27 and 33; 32 GPUs x 2.
_base_ = [
    '../_base_/models/itpn/cascade-mask-rcnn_itpn-b.py',
    '../_base_/datasets/coco_instance_ms-crop.py',
    '../_base_/schedules/schedule_3x.py', '../_base_/det_runtime.py'
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='hvt.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9, layer_decay_mode='official'))
auto_scale_lr = dict(base_batch_size=64)

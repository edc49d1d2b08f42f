# ViTAEv2-S Mask R-CNN 1x, COCO val2017. Paper: ViTAEv2 (IJCV 2023) Table 11, "Mask R-CNN 1x,
# ViTAEv2-S": APb 46.3 / APm 41.8 (37M params); official log 0.463 / 0.418.
# Recipe (docs/design/vitae.md#downstream-recipes, "exactly the Swin setting"): DETR-style
# multi-scale + crop training,
# single-scale 1333x800 test; AdamW lr 1e-4, betas (0.9, 0.999), weight decay 0.045 with none on
# norms / absolute_pos_embed / relative_position_bias_table; 12 epochs, steps at 8 and 11, 500-iter
# linear warm-up; 8 GPUs x 2 images.
_base_ = [
    '../_base_/models/vitaev2/mask-rcnn_vitaev2-s_fpn.py',
    '../_base_/datasets/coco_instance_ms-crop.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/det_runtime.py'
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.045),
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.),
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.)}))

# CETNet-T Cascade Mask R-CNN 3x, COCO val2017. No paper row: the CETNet paper reports only Mask
# R-CNN (Table 2); added on the ViTAEv2 Cascade 3x recipe (docs/design/vitae.md#downstream-recipes):
# DETR-style
# multi-scale + crop, AdamW lr 1e-4, weight decay 0.05 (none on norms / relative position tables),
# 36 epochs, steps at 27 and 33, 500-iter warm-up, batch 16. Backbone drop path as for Mask R-CNN.
_base_ = [
    '../_base_/models/cetnet/cascade-mask-rcnn_cetnet-t_fpn.py',
    '../_base_/datasets/coco_instance_ms-crop.py',
    '../_base_/schedules/schedule_3x.py', '../_base_/det_runtime.py'
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.),
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.)}))

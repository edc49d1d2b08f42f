# ViTAEv2-S Cascade Mask R-CNN 1x, COCO val2017. Paper: ViTAEv2 Table 11, "Cascade Mask R-CNN 1x,
# ViTAEv2-S": APb 50.6 / APm 43.6 (75M params); official log 0.506 / 0.436.
# Recipe as mask-rcnn_vitaev2-s_fpn_1x_coco.py (AdamW 1e-4, wd 0.045, multi-scale + crop).
_base_ = [
    '../_base_/models/vitaev2/cascade-mask-rcnn_vitaev2-s_fpn.py',
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

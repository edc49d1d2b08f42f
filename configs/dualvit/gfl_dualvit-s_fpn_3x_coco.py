# Dual-ViT-S GFL 3x, COCO val2017. Paper: Dual-ViT Table 5, "GFL, Dual-ViT-S": APb 51.3
# (AP50 70.1, AP75 55.7).
# Recipe (docs/design/dualvit.md#coco-detection-recipes): DETR-style multi-scale + crop training,
# single-scale 1333x800 test;
# AdamW lr 1e-4, betas (0.9, 0.999), weight decay 0.05, no decay on keys containing 'norm';
# 36 epochs, steps at 27 and 33, 500-iter warm-up; 8 GPUs x 2 images (fp16 in the official run).
_base_ = [
    '../_base_/models/dualvit/gfl_dualvit-s_fpn.py', '../_base_/datasets/coco_detection_ms-crop.py',
    '../_base_/schedules/schedule_3x.py', '../_base_/det_runtime.py'
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))

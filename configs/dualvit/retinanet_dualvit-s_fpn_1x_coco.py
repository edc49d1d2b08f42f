# Dual-ViT-S RetinaNet 1x, COCO val2017. Paper: Dual-ViT (TPAMI 2023) Table 4, "Dual-ViT-S",
# RetinaNet: AP 46.2 (AP50 67.4, AP75 49.9).
# Recipe (docs/design/dualvit.md#coco-detection-recipes, official retinanet_dualvit_s_fpn_1x_coco):
# single-scale 1333x800,
# flip 0.5; AdamW lr 1e-4, weight decay 1e-4 (the official config has no parameter-wise settings);
# 12 epochs, steps at 8 and 11, 500-iter warm-up; 8 GPUs x 2 images (the official run used fp16,
# loss scale 512: add --amp on GPUs).
_base_ = [
    '../_base_/models/dualvit/retinanet_dualvit-s_fpn.py', '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/det_runtime.py'
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4))

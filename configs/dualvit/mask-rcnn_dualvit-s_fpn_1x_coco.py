# Dual-ViT-S Mask R-CNN 1x, COCO val2017. Paper: Dual-ViT Table 4, "Dual-ViT-S", Mask R-CNN:
# APb 46.5 / APm 42.2.
# Recipe (docs/design/dualvit.md#coco-detection-recipes, official mask_rcnn_dualvit_s_fpn_1x_coco):
# single-scale 1333x800;
# AdamW lr 2e-4, weight decay 1e-4 (no parameter-wise settings in the official config); 12 epochs,
# steps at 8 and 11, 500-iter warm-up; 8 GPUs x 2 images (fp16 in the official run).
_base_ = [
    '../_base_/models/dualvit/mask-rcnn_dualvit-s_fpn.py', '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/det_runtime.py'
]
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4))

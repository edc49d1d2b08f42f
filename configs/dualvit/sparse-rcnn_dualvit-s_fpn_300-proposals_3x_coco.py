# Dual-ViT-S Sparse R-CNN 3x (300 proposals), COCO val2017. Paper: Dual-ViT Table 5, "Sparse R-CNN,
# Dual-ViT-S": APb 51.4 (AP50 70.9, AP75 56.2).
# Recipe (docs/design/dualvit.md#coco-detection-recipes; the official file is named
# sparse_rcnn_dualvit_b_..._3x but builds
# Dual-ViT-S): DETR-style multi-scale + crop training; 300 learned proposals, 6 stages; AdamW
# lr 2.5e-5 / 1.4, weight decay 1e-4, gradient clipping max_norm 1; 36 epochs, steps at 27 and 33;
# 8 GPUs x 1 image.
_base_ = [
    '../_base_/models/dualvit/sparse-rcnn_dualvit-s_fpn.py',
    '../_base_/datasets/coco_detection_ms-crop.py',
    '../_base_/schedules/schedule_3x.py', '../_base_/det_runtime.py'
]
num_proposals = 300
model = dict(rpn_head=dict(num_proposals=num_proposals),
             test_cfg=dict(_delete_=True, rpn=None, rcnn=dict(max_per_img=num_proposals)))
train_dataloader = dict(batch_size=1)
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2.5e-5 / 1.4, weight_decay=1e-4),
    clip_grad=dict(max_norm=1, norm_type=2))
auto_scale_lr = dict(base_batch_size=8)

# CETNet-T UperNet 160k, ADE20K val. Paper: CETNet Table 3, "CETNet-T": mIoU 46.5 single-scale /
# 47.9 multi-scale (53.2M params).
# Recipe (docs/design/cetnet.md#ade20k-recipe, mmseg Swin UperNet settings where the paper is
# silent): 512x512 crops,
# AdamW lr 6e-5, weight decay 0.01 (none on norms / relative position tables), 1500-iter warm-up
# from 1e-6, poly power 1.0 to 0; 160k iterations, 8 GPUs x 2 images; single-scale whole test.
_base_ = [
    '../_base_/models/cetnet/upernet_cetnet-t.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_160k_adamw.py', '../_base_/seg_runtime.py'
]
train_dataloader = dict(batch_size=2)

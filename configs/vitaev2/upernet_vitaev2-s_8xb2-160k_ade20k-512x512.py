# ViTAEv2-S UperNet 160k, ADE20K val. Paper: ViTAEv2 Table 12, "ViTAEv2-S": mIoU 45.0 single-scale /
# 48.0 multi-scale (49M params); README 44.95 / 47.98.
# Recipe (docs/design/vitae.md#downstream-recipes): 512x512 crops of a (2048, 512) random resize
# (ratio 0.5-2.0,
# cat_max_ratio 0.75); AdamW lr 6e-5, wd 0.01, no decay on norms; 1500-iter warm-up, poly power 1.0
# to 0; 160k iterations, 8 GPUs x 2 images; single-scale whole-image test at (2048, 512).
_base_ = [
    '../_base_/models/vitaev2/upernet_vitaev2-s.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_160k_adamw.py', '../_base_/seg_runtime.py'
]
train_dataloader = dict(batch_size=2)

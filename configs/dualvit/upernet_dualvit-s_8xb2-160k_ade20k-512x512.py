# Dual-ViT-S UperNet 160k, ADE20K val. Paper: Dual-ViT Table 6, "UPerNet / Dual-ViT-S": mIoU 49.2.
# Recipe (docs/design/dualvit.md#ade20k-recipe, official upernet_dualvit_s_512x512_160k_ade20k):
# 512x512 crops of a
# (2048, 512) random resize (ratio 0.5-2.0, cat_max_ratio 0.75), flip, photometric distortion;
# AdamW lr 6e-5, wd 0.01, no decay on 'norm'; 1500-iter warm-up from 1e-6, then linear (poly 1.0)
# decay to 0; 160k iterations, 8 GPUs x 2 images (fp16 officially); single-scale whole test at
# (2048, 512), with the official backbone's 768-pixel tiled test-time forward (test_tile_size).
_base_ = [
    '../_base_/models/dualvit/upernet_dualvit-s.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_160k_adamw.py', '../_base_/seg_runtime.py'
]
train_dataloader = dict(batch_size=2)

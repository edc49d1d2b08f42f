# iTPN-L (CLIP-L supervised pre-training, 300 epochs) Mask R-CNN 1x, COCO val2017. Paper: iTPN
# Table V (large), "iTPN HiViT-L, CLIP-L, 300e", MR 1x: APb 55.2 / APm 48.2 (pixel 1600e row:
# 55.6 / 48.6).
# Recipe (official clip_itpn_large_1x_ld095_dp020): as mask-rcnn_itpn-b-pixel_1x_coco.py with
# HiViT-L (2+2+40 blocks, 768-d), lr 2e-4, layer decay 0.95, drop path 0.2, layer scale 0.1, and
# the official detector's ViTDet-style decomposed relative positions
# (docs/design/itpn.md#relative-position-options):
# per-block rel_pos_h / rel_pos_w (27 x 64, new parameters, not in the pre-trained weights),
# linearly resized to the input grid.
_base_ = ['./mask-rcnn_itpn-b-pixel_1x_coco.py']
model = dict(backbone=dict(
    arch='l', rpe='decomposed', drop_path_rate=0.2, layer_scale_init_value=0.1,
    init_cfg=dict(checkpoint='official:itpn-l-clip_pt')))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.95))

# iTPN-B (CLIP-B supervised pre-training, 800 epochs) Mask R-CNN 3x, COCO val2017. Paper: iTPN
# Table V, "iTPN HiViT-B, CLIP-B, 800e", MR 3x: APb 54.1 / APm 47.5 (pixel 1600e row: 54.0 / 47.4).
# Recipe (official clip_itpn_base_3x_ld090_dp030): as the 1x config with lr 1.5e-4, drop path 0.3,
# layer scale 0.1 (CLIP pre-trained HiViT), 36 epochs, steps at 27 and 33.
_base_ = ['./mask-rcnn_itpn-b-pixel_1x_coco.py']
model = dict(backbone=dict(
    drop_path_rate=0.3, layer_scale_init_value=0.1,
    init_cfg=dict(checkpoint='official:itpn-b-clip_pt')))
optim_wrapper = dict(optimizer=dict(lr=1.5e-4))
train_cfg = dict(max_epochs=36)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]

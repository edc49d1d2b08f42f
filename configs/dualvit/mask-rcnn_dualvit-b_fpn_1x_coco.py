# Dual-ViT-B Mask R-CNN 1x, COCO val2017. Paper: Dual-ViT Table 4, "Dual-ViT-B", Mask R-CNN:
# APb 48.4 / APm 43.4. Same recipe as the S config (detection drop path 0.15).
_base_ = ['./mask-rcnn_dualvit-s_fpn_1x_coco.py']
model = dict(
    backbone=dict(arch='b', init_cfg=dict(checkpoint='official:dualvit-b_dense-pretrained')),
    neck=dict(in_channels=[64, 128, 320, 512]))

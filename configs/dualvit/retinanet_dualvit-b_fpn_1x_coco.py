# Dual-ViT-B RetinaNet 1x, COCO val2017. Paper: Dual-ViT Table 4, "Dual-ViT-B", RetinaNet: AP 47.4
# (AP50 68.1, AP75 51.2). Same recipe as the S config (detection drop path 0.15 for both sizes).
_base_ = ['./retinanet_dualvit-s_fpn_1x_coco.py']
model = dict(
    backbone=dict(arch='b', init_cfg=dict(checkpoint='official:dualvit-b_dense-pretrained')),
    neck=dict(in_channels=[64, 128, 320, 512]))

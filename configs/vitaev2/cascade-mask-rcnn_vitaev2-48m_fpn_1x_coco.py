# ViTAEv2-48M Cascade Mask R-CNN 1x, COCO val2017. No paper row: ViTAEv2 Table 11 reports only ViTAEv2-S
# (the issue asks for every variant); same recipe as cascade-mask-rcnn_vitaev2-s_fpn_1x_coco.py with the 48M backbone
# (official:vitaev2-48m_in1k).
_base_ = ['./cascade-mask-rcnn_vitaev2-s_fpn_1x_coco.py']
model = dict(
    backbone=dict(arch='48m', init_cfg=dict(checkpoint='official:vitaev2-48m_in1k')),
    neck=dict(in_channels=[96, 192, 384, 768]))

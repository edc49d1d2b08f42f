# iTPN-L (CLIP-L pre-training) Cascade Mask R-CNN 3x, COCO val2017. No paper row (Table V has no
# large cascade result); the issue asks for it: cascade-mask-rcnn_itpn-b-pixel_3x_coco.py's recipe
# (lr 1e-4, 36 epochs) with the L settings (layer decay 0.95, drop path 0.2, layer scale 0.1,
# ViTDet-style decomposed relative positions as in mask-rcnn_itpn-l-clip_1x_coco.py).
_base_ = ['./cascade-mask-rcnn_itpn-b-pixel_3x_coco.py']
model = dict(backbone=dict(
    arch='l', rpe='decomposed', drop_path_rate=0.2, layer_scale_init_value=0.1,
    init_cfg=dict(checkpoint='official:itpn-l-clip_pt')))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.95))

# Fast-iTPN-B Mask R-CNN 1x with window attention + token gathering, COCO val2017. Paper: Fast-iTPN
# Fig. 5 / §5.4.1, "Window attention + gathering tokens": mAP 52.7 (about +85% speed).
# Same recipe as mask-rcnn_fast-itpn-b_1x_coco.py; token gathering [R] (spec §3.2): stage-3 window
# attention (14x14 tokens) over [gathering token; window], then every token attends to all
# gathering tokens; gathering tokens start as the window means.
_base_ = ['./mask-rcnn_fast-itpn-b_1x_coco.py']
model = dict(backbone=dict(attn_mode='gathering', window_size=14))

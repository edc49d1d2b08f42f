# Fast-iTPN-B Mask R-CNN 1x with window attention + token gathering, COCO val2017. Paper: Fast-iTPN
# Fig. 5 / Sec. 5.4.1, "Window attention + gathering tokens": mAP 52.7 (about +85% speed).
# Same recipe as mask-rcnn_fast-itpn-b_1x_coco.py; token gathering [R]
# (docs/fast_itpn.md#token-gathering): window
# attention (14x14 tokens) over [gathering token; window] in every stage-3 block, then every token
# attends to all gathering tokens; gathering tokens start as the window means. No migration, no
# RPE (the combined row is mask-rcnn_fast-itpn-b_mig40-gt-rpe_1x_coco.py).
_base_ = ['./mask-rcnn_fast-itpn-b_1x_coco.py']
model = dict(backbone=dict(attn_mode='gathering', window_size=14))

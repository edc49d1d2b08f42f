# Fast-iTPN-B Mask R-CNN 1x with token migration 20%, COCO val2017. Paper: Fast-iTPN Fig. 5 /
# Sec. 5.4.1, "Migration 20%": mAP 53.3 (+20% inference speed).
# Same recipe as mask-rcnn_fast-itpn-b_1x_coco.py; token migration [R]
# (docs/fast_itpn.md#token-migration): 20% of each
# 14x14-token stage-3 window migrates out, spread over all 24 stage-3 layers; migrated tokens are
# replenished before the pyramid. Attention stays global.
_base_ = ['./mask-rcnn_fast-itpn-b_1x_coco.py']
model = dict(backbone=dict(migration_ratio=0.2, window_size=14))

# Fast-iTPN-B Mask R-CNN 1x with token migration (40%) and token gathering (+ RPE).
# Paper: Fast-iTPN Sec. 5.4.1 / Fig. 5, "migration + gathering tokens (+ RPE)": about -0.5 mAP
# (52.9) at +70% inference speed. No official code: the [R] design of docs/fast_itpn.md:
# 14x14-token windows (ViTDet-style padding, padded keys masked), one gathering token per window
# (mean-initialised, no new weights), window attention in every block except the ViTDet global
# blocks 5, 11, 17, 23, relative position bias for window and token->gathering-token attention
# (new zero-initialised tables), 40% of each window's tokens migrated over all 24 stage-3 layers
# and replenished before the pyramid.
_base_ = ['./mask-rcnn_fast-itpn-b_1x_coco.py']
model = dict(
    backbone=dict(
        migration_ratio=0.4, drop_layers=None, migration_schedule='cumulative',
        attn_mode='gathering', window_size=14, global_attn_indexes=(5, 11, 17, 23),
        window_rpe='rpe', gathering_init='mean', gathering_query='input'))

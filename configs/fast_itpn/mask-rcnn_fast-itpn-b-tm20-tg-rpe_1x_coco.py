# Fast-iTPN-B Mask R-CNN 1x with token migration + token gathering + RPE, COCO val2017. Paper:
# Fast-iTPN Fig. 5 / §5.4.1, "Migration + gathering tokens (+ RPE)": about 52.9 mAP (-0.5) at +70%
# inference speed. The migration ratio of that row is not printed: 20% here.
# Same recipe as mask-rcnn_fast-itpn-b_1x_coco.py; 14x14 windows, relative position bias for the
# window attention and the token -> gathering-token step (Table VII "RPE", new zero-init tables).
_base_ = ['./mask-rcnn_fast-itpn-b_1x_coco.py']
model = dict(backbone=dict(attn_mode='gathering', window_size=14, migration_ratio=0.2,
                           window_rpe='rpe'))

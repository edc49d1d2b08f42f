# Fast-iTPN-B Mask R-CNN 1x, COCO val2017, no acceleration. Paper: Fast-iTPN (TPAMI) Sec. 5.4.1 /
# Fig. 5 baseline, 53.4 mAP (Mask R-CNN, 12 epochs). No official config exists
# (docs/design/itpn.md#fast-itpn-downstream-configs): this is
# the iTPN-B recipe (docs/design/itpn.md#coco-recipes: lr 2e-4, layer decay 0.90, 12 epochs, steps
# 9/11) with
# hvt.FastiTPNDet = Fast-iTPN-B + the iTPN pyramid (fpn_dim 256, fpn_depth 1) replacing FPN
# (five 256-channel maps at strides 4-64, avg-pooled extras), Fast-iTPN fine-tuning settings
# (layer scale 0.1, drop path 0.1). Accelerated variants: *_mig*_gt_* configs.
_base_ = ['../itpn/mask-rcnn_itpn-b-pixel_1x_coco.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.FastiTPNDet', arch='b', img_size=224, fpn_dim=256, fpn_depth=1,
        out_strides=(4, 8, 16, 32, 64), extra_pool='avg', layer_scale_init_value=0.1,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='official:fast-itpn-b-clip-l_pt-1600e',
                      trust_pickle=True)),
    neck=None)

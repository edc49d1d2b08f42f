# Cascade Mask R-CNN with iTPN-B (docs/design/itpn.md#downstream-use-of-the-pyramid): the
# pre-trained pyramid replaces FPN
# (neck=None, five 256-channel maps at strides 4-64, see mask-rcnn_itpn-b.py); three 4conv1fc
# GIoU stages (../cascade-mask-rcnn_r50_fpn.py); drop path 0.2.
_base_ = ['../cascade-mask-rcnn_r50_fpn.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.iTPNDet', arch='b', img_size=224, fpn_dim=256, fpn_depth=1,
        num_outs=5, ape=True, pos_embed_interp='per-forward', norm_eps=1e-5,
        rpe=False, drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='official:itpn-b-pixel_pt')),
    neck=None)

# Mask R-CNN with Fast-iTPN-B (spec itpn.md §2.6 [R], §3): the iTPN pyramid on Fast-iTPN
# (hvt.FastiTPNDet) replaces FPN with five 256-channel maps at strides 4-64; heads as for iTPN
# (../itpn/mask-rcnn_itpn-b.py: RPN on 4-64, 4conv1fc SyncBN GIoU bbox head, FCN mask head).
# Drop path 0.1. Token migration / gathering are off here (switched on by the -tm / -tg configs).
_base_ = ['../itpn/mask-rcnn_itpn-b.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.FastiTPNDet', arch='b', img_size=224, fpn_dim=256, fpn_depth=1,
        out_strides=(4, 8, 16, 32, 64), extra_pool='avg', drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/fast_itpn_base_clipl_1600e.pth')))

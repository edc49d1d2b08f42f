# Mask R-CNN with iTPN-B (docs/design/itpn.md#downstream-use-of-the-pyramid, official
# det/configs/itpn): the pre-trained pyramid
# replaces FPN (neck=None). hvt.iTPNDet = HiViT-B (3+3+24 blocks, 512-d, absolute position
# embedding kept at the 14x14 pre-training grid and interpolated on every forward exactly as the
# official det code does, pos_embed_interp='per-forward'; PyTorch-default LayerNorm eps 1e-5 as
# there; no rpe) + the iTPN pyramid (fpn_dim 256, fpn_depth 1) giving five 256-channel maps at
# strides 4-64 (stride 32/64 are 2x2 average pools). Heads: RPN on strides 4-64; ConvFCBBoxHead
# 4conv1fc (SyncBN), decoded-box GIoU loss (weight 10); FCN mask head.
# Pretrained: an iTPN pre-training checkpoint (backbone + pyramid are loaded, see iTPNDet).
_base_ = ['../mask-rcnn_r50_fpn.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.iTPNDet', arch='b', img_size=224, fpn_dim=256, fpn_depth=1,
        num_outs=5, ape=True, pos_embed_interp='per-forward', norm_eps=1e-5,
        rpe=False, drop_path_rate=0.05,
        init_cfg=dict(type='Pretrained', checkpoint='official:itpn-b-pixel_pt')),
    neck=None,
    roi_head=dict(
        bbox_head=dict(
            _delete_=True,
            type='ConvFCBBoxHead', num_shared_convs=4, num_shared_fcs=1, in_channels=256,
            conv_out_channels=256, fc_out_channels=1024, roi_feat_size=7, num_classes=80,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False, reg_decoded_bbox=True,
            norm_cfg=dict(type='SyncBN', requires_grad=True),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=10.0))))

# DINO (4 scales) with Fast-iTPN-B (docs/design/itpn.md#fast-itpn-downstream-configs [R]; no
# official config exists): the
# iTPN pyramid on top of Fast-iTPN (hvt.FastiTPNDet, fpn_dim 256, fpn_depth 1, ConvMLP blocks)
# gives DINO its four 256-channel inputs at strides 8, 16, 32, 64 (32 and 64 are 2x2 average pools),
# so there is no ChannelMapper neck. Drop path 0.1; inputs padded to a multiple of 32.
_base_ = ['../dino-4scale_r50.py']
model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        _delete_=True, type='hvt.FastiTPNDet', arch='b', img_size=224, fpn_dim=256, fpn_depth=1,
        out_strides=(8, 16, 32, 64), extra_pool='avg', drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='official:fast-itpn-b-clip-l_pt-1600e',
                      trust_pickle=True)),
    neck=None)

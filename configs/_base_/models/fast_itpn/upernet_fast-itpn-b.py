# UperNet with Fast-iTPN-B (docs/design/itpn.md#fast-itpn-downstream-configs [R]; no official
# config): hvt.FastiTPNDet gives the
# pyramid's four 256-channel maps at strides 4, 8, 16 and a 2x2 max-pooled stride 32 (fpn_depth 2
# as iTPN segmentation); UPerHead 768 channels, auxiliary FCNHead on the stride-16 map.
# Sliding-window test (crop 512, stride 341) as iTPN.
_base_ = ['../upernet_r50.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.FastiTPNDet', arch='b', img_size=224, fpn_dim=256, fpn_depth=2,
        out_strides=(4, 8, 16, 32), extra_pool='max', drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='official:fast-itpn-b-clip-l_pt-1600e',
                      trust_pickle=True)),
    decode_head=dict(in_channels=[256, 256, 256, 256], channels=768),
    auxiliary_head=dict(in_channels=256, in_index=2, channels=256),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))

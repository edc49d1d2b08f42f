# UperNet with a Dual-ViT-S backbone (docs/design/dualvit.md#ade20k-recipe, official
# upernet_dualvit_s config):
# dense-mode backbone (64/128/320/448 channels, drop path 0.15, SyncBN stem), UPerHead on all four
# stages (pool scales 1/2/3/6, 512 channels, SyncBN), auxiliary FCNHead on stage 3 (320 -> 256,
# loss weight 0.4). Test images are padded to a multiple of 32 and the padding is cropped off; the
# backbone's official test-time tiling is on (768x768 windows over larger inputs,
# docs/design/dualvit.md#test-time-tiling-in-segmentation).
_base_ = ['../upernet_r50.py']
model = dict(
    data_preprocessor=dict(test_cfg=dict(size_divisor=32)),
    backbone=dict(
        _delete_=True, type='hvt.DualViT', arch='s', mode='dense', out_indices=(0, 1, 2, 3),
        drop_path_rate=0.15, stem_norm_cfg=dict(type='SyncBN', requires_grad=True),
        test_tile_size=768,
        init_cfg=dict(type='Pretrained', checkpoint='official:dualvit-s_dense-pretrained')),
    decode_head=dict(in_channels=[64, 128, 320, 448], channels=512),
    auxiliary_head=dict(in_channels=320, channels=256))

# UperNet with a ViTAEv2-S backbone (docs/design/vitae.md#downstream-recipes): UPerHead on the four
# stages
# (64/128/256/512, pool scales 1/2/3/6, 512 channels, SyncBN, 150 classes), auxiliary FCNHead on
# stage 3 (256 channels, loss weight 0.4); backbone drop path 0.2. Test images are padded to a
# multiple of 32 (the backbone's requirement) and the padding is cropped off the prediction.
_base_ = ['../upernet_r50.py']
model = dict(
    data_preprocessor=dict(test_cfg=dict(size_divisor=32)),
    backbone=dict(
        _delete_=True, type='hvt.ViTAEv2', arch='s', out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2, frozen_stages=-1, norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='official:vitaev2-s_in1k',
                      prefix='backbone.')),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=512),
    auxiliary_head=dict(in_channels=256, channels=256))

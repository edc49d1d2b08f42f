# UperNet with a CETNet-T backbone (docs/design/cetnet.md#ade20k-recipe, the Swin UperNet setting):
# UPerHead on the
# four LayerNorm'ed stages (64/128/256/512, pool scales 1/2/3/6, 512 channels, SyncBN), auxiliary
# FCNHead on stage 3 (256 -> 256, loss weight 0.4); backbone drop path 0.3.
_base_ = ['../upernet_r50.py']
model = dict(
    data_preprocessor=dict(test_cfg=dict(size_divisor=32)),
    backbone=dict(
        _delete_=True, type='hvt.CETNet', arch='t', out_indices=(0, 1, 2, 3), out_norm=True,
        drop_path_rate=0.3, frozen_stages=-1, norm_eval=False,
        # no official CETNet weights are published: train cetnet-t_8xb128_in1k.py first
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/cetnet-t_in1k.pth',
                      prefix='backbone.')),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=512),
    auxiliary_head=dict(in_channels=256, channels=256))

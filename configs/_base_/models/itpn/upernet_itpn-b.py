# UperNet with iTPN-B (spec itpn.md §2.6, official seg/backbone/iTPN.py): hvt.iTPNSeg concatenates
# each pyramid level with the backbone stage of the same stride (O4+U1, O8+U2, O16+U3) and adds a
# 2x2 max-pooled stride-32 map: channels [384, 512, 768, 768]. fpn_depth 2, rpe on (tables at the
# 32x32 grid of a 512 crop, interpolated from the checkpoint), absolute position embedding.
# UPerHead 768 channels (BEiT upernet base), auxiliary FCNHead on the stride-16 level (768 -> 256).
_base_ = ['../upernet_r50.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.iTPNSeg', arch='b', img_size=512, fpn_dim=256, fpn_depth=2,
        num_outs=4, ape=True, rpe=True, drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/itpn_pixel_base_1600e.pth')),
    decode_head=dict(in_channels=[384, 512, 768, 768], channels=768),
    auxiliary_head=dict(in_channels=768, in_index=2, channels=256),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))

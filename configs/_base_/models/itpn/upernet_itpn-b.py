# UperNet with iTPN-B (docs/design/itpn.md#downstream-use-of-the-pyramid, official
# seg/backbone/iTPN.py): hvt.iTPNSeg concatenates
# each pyramid level with the backbone stage of the same stride (O4+U1, O8+U2, O16+U3) and adds a
# 2x2 max-pooled stride-32 map: channels [384, 512, 768, 768]. fpn_depth 2, rpe on (tables at the
# 32x32 grid of a 512 crop, interpolated from the checkpoint), absolute position embedding kept
# at the 14x14 pre-training grid (196 entries) and interpolated to 32x32 on every forward as in
# the official seg code (pos_embed_interp='per-forward'); LayerNorm eps 1e-5 as there.
# UPerHead 768 channels (BEiT upernet base), auxiliary FCNHead on the stride-16 level (768 -> 256).
_base_ = ['../upernet_r50.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.iTPNSeg', arch='b', img_size=512, fpn_dim=256, fpn_depth=2,
        num_outs=4, ape=True, pos_embed_interp='per-forward', norm_eps=1e-5,
        rpe=True, drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='official:itpn-b-pixel_pt')),
    decode_head=dict(in_channels=[384, 512, 768, 768], channels=768),
    auxiliary_head=dict(in_channels=768, in_index=2, channels=256),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))

# CETNet-S UperNet 160k, ADE20K val. Paper: CETNet Table 3, "CETNet-S": mIoU 48.9 single-scale / 50.6 multi-scale (63.4M params).
# Same recipe as upernet_cetnet-t_8xb2-160k_ade20k-512x512.py (drop path 0.3).
_base_ = ['./upernet_cetnet-t_8xb2-160k_ade20k-512x512.py']
model = dict(
    # no official CETNet weights are published: train cetnet-s_8xb128_in1k.py first
    backbone=dict(arch='s', init_cfg=dict(checkpoint='checkpoints/cetnet-s_in1k.pth')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))

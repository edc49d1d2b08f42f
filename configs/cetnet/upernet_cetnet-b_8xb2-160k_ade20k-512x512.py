# CETNet-B UperNet 160k, ADE20K val. Paper: CETNet Table 3, "CETNet-B": mIoU 50.2 single-scale / 51.6 multi-scale (106.3M params).
# Same recipe as upernet_cetnet-t_8xb2-160k_ade20k-512x512.py (drop path 0.3).
_base_ = ['./upernet_cetnet-t_8xb2-160k_ade20k-512x512.py']
model = dict(
    # no official CETNet weights are published: train cetnet-b_8xb128_in1k.py first
    backbone=dict(arch='b', init_cfg=dict(checkpoint='checkpoints/cetnet-b_in1k.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))

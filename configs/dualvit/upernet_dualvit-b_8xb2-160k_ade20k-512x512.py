# Dual-ViT-B UperNet 160k, ADE20K val. Paper: Dual-ViT Table 6, "UPerNet / Dual-ViT-B": mIoU 51.7.
# Same recipe as the S config with drop path 0.3 (official upernet_dualvit_b config).
_base_ = ['./upernet_dualvit-s_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(arch='b', drop_path_rate=0.3,
                  init_cfg=dict(checkpoint='official:dualvit-b_dense-pretrained')),
    decode_head=dict(in_channels=[64, 128, 320, 512]))

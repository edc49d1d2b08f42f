# iTPN-L (pixel pre-training, 1600 epochs) UperNet 160k, ADE20K val. Paper: iTPN Table V (large),
# "iTPN HiViT-L, pixel, 1600e": mIoU 56.1 (CLIP-L row: 57.7).
# Recipe as the B config with HiViT-L: concat channels [448, 640, 1024, 1024], auxiliary head on
# 1024 channels, layer decay 0.95 (paper; the official pixel-L config file uses 0.90), drop path 0.2.
_base_ = ['./upernet_itpn-b-pixel_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(arch='l', drop_path_rate=0.2,
                  init_cfg=dict(checkpoint='official:itpn-l-pixel_pt')),
    decode_head=dict(in_channels=[448, 640, 1024, 1024]),
    auxiliary_head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.95))

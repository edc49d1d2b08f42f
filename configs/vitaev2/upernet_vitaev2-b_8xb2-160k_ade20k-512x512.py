# ViTAEv2-B UperNet 160k, ADE20K val. No paper row: ViTAEv2 Table 12 reports only ViTAEv2-S (the
# issue asks for every variant); same recipe as upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py.
_base_ = ['./upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(arch='b', init_cfg=dict(checkpoint='official:vitaev2-b_in1k')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))

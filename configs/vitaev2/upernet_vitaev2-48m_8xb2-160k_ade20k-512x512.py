# ViTAEv2-48M UperNet 160k, ADE20K val. No paper row: ViTAEv2 Table 12 reports only ViTAEv2-S (the
# issue asks for every variant); same recipe as upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py.
_base_ = ['./upernet_vitaev2-s_8xb2-160k_ade20k-512x512.py']
model = dict(
    backbone=dict(arch='48m', init_cfg=dict(checkpoint='official:vitaev2-48m_in1k')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))

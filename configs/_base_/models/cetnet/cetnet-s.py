# CETNet-S classifier (docs/design/cetnet.md#cetnet-variants): D=64, depths [2,4,31,2], heads
# [2,4,8,16] ([inferred] S/B configs, docs/design/cetnet.md#cetnet-variants); window 7,
# MLP 4, LEWin blocks, CE stem + CEs. 33,973,268 params with the 1000-class head; paper 34M / 6.8G.
_base_ = ['../image-classifier.py']
model = dict(
    backbone=dict(_delete_=True, type='hvt.CETNet', arch='s', drop_path_rate=0.3,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))

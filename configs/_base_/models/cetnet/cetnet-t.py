# CETNet-T classifier (docs/design/cetnet.md#cetnet-variants): D=64, depths [2,2,18,2], heads
# [2,4,8,16] (paper: D and depths); window 7,
# MLP 4, LEWin blocks, CE stem + CEs. 23,255,076 params with the 1000-class head; paper 23.4M / 4.3G (Table 1: 23M).
_base_ = ['../image-classifier.py']
model = dict(
    backbone=dict(_delete_=True, type='hvt.CETNet', arch='t', drop_path_rate=0.2,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=512))

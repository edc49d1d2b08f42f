# CETNet-B classifier (docs/design/cetnet.md#cetnet-variants): D=96, depths [2,4,31,2], heads
# [3,6,12,24] ([inferred] S/B configs, docs/design/cetnet.md#cetnet-variants); window 7,
# MLP 4, LEWin blocks, CE stem + CEs. 75,809,578 params with the 1000-class head; paper 75M / 15.1G.
_base_ = ['../image-classifier.py']
model = dict(
    backbone=dict(_delete_=True, type='hvt.CETNet', arch='b', drop_path_rate=0.5,
                  out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(in_channels=768))

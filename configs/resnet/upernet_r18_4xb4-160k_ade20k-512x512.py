# UperNet R-18 160k on ADE20K: the pipeline's reference segmentor (mmseg's ResNetV1c), not an HVT
# model.
_base_ = [
    '../_base_/models/upernet_r50.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/schedule_160k.py', '../_base_/seg_runtime.py'
]
model = dict(
    backbone=dict(depth=18),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))

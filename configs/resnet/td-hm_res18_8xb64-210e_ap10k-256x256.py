# SimpleBaseline R-18 on AP-10K: the pipeline's reference pose model (mmpose's ResNet), not an HVT
# model.
_base_ = [
    '../_base_/models/topdown-heatmap.py', '../_base_/datasets/ap10k_topdown.py',
    '../_base_/schedules/schedule_210e_pose.py', '../_base_/pose_runtime.py'
]
model = dict(backbone=dict(type='ResNet', depth=18), head=dict(in_channels=512))

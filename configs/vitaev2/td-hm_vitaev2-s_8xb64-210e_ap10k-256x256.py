# ViTAEv2-S SimpleBaseline on AP-10K (split 1), 256x256. Paper: ViTAEv2 Table 13, "ViTAEv2-S":
# test AP 0.718 (AP50 0.939, AP75 0.786, AR 0.751; 23.1M params).
# Recipe (docs/design/vitae.md#downstream-recipes, official mmpose config): flip 0.5, half-body (8
# joints, p 0.3),
# scale factor 0.5 and rotation factor 40 (old mmpose: rotation N(0, 40) clipped to +-80 with p 0.6;
# mmpose 1.x's nearest form: 80 x a standard normal truncated to +-1, p 0.6), no shift;
# heatmaps 64x64 with sigma 2; Adam lr 5e-4, 500-iter warm-up, steps at 170 and 200, 210 epochs;
# 64 images per GPU (the GPU count is not stated: 8 assumed); flip test. The paper reports the test
# split, which test_dataloader / test_evaluator use.
_base_ = [
    '../_base_/models/vitaev2/td-hm_vitaev2-s.py', '../_base_/datasets/ap10k_topdown.py',
    '../_base_/schedules/schedule_210e_pose.py', '../_base_/pose_runtime.py'
]
codec = dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal', prob=0.5),
    dict(type='RandomHalfBody', min_total_keypoints=8, prob=0.3),
    dict(type='RandomBBoxTransform', shift_prob=0., scale_factor=(0.5, 1.5), rotate_factor=80.,
         rotate_prob=0.6),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))

# SimpleBaseline top-down heatmap estimator (mmpose): backbone -> deconvolution head -> 17 heatmaps.
# Backbone configs replace `backbone` and set `head.in_channels` to the last stage width.
# (The codec is written inline: a top-level `codec` would clash with the dataset base's.)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=50),
    head=dict(type='HeatmapHead', in_channels=2048, out_channels=17,
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64),
                           sigma=2)),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

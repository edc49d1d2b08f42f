# SimpleBaseline (top-down heatmap) with a ViTAEv2-S backbone (spec vitae.md §3.2, official mmpose
# config): only the stride-32 map (out_indices=(3,), 512 channels, no output norm), drop path 0.6;
# head = 3 deconvolutions (4x4, 256 filters, BN + ReLU) + 1x1 conv to 17 heatmaps; MSE loss with
# target weights; flip test with heatmap shift. Same model layout as ../topdown-heatmap.py, written
# out here because that base and datasets/ap10k.py both define `codec` (mmengine refuses duplicate
# keys among bases).
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='hvt.ViTAEv2', arch='s', out_indices=(3, ), drop_path_rate=0.6, frozen_stages=-1,
        norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/ViTAEv2-S.pth.tar')),
    head=dict(type='HeatmapHead', in_channels=512, out_channels=17,
              deconv_out_channels=(256, 256, 256), deconv_kernel_sizes=(4, 4, 4),
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64),
                           sigma=2)),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

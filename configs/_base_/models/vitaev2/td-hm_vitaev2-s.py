# SimpleBaseline (top-down heatmap) with a ViTAEv2-S backbone
# (docs/design/vitae.md#downstream-recipes, official mmpose
# config): only the stride-32 map (out_indices=(3,), 512 channels, no output norm), drop path 0.6;
# head = 3 deconvolutions (4x4, 256 filters, BN + ReLU) + 1x1 conv to 17 heatmaps; MSE loss with
# target weights; flip test with heatmap shift.
_base_ = ['../topdown-heatmap.py']
model = dict(
    backbone=dict(
        _delete_=True, type='hvt.ViTAEv2', arch='s', out_indices=(3, ), drop_path_rate=0.6,
        frozen_stages=-1, norm_eval=False,
        init_cfg=dict(type='Pretrained', checkpoint='official:vitaev2-s_in1k',
                      prefix='backbone.')),
    head=dict(in_channels=512, deconv_out_channels=(256, 256, 256),
              deconv_kernel_sizes=(4, 4, 4)),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

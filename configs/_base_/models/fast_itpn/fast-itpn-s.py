# Fast-iTPN-S classifier (docs/design/itpn.md#fast-itpn-backbone): ConvPatchEmbed, ConvMLP stages
# with sub-LN, separate
# q/k/v with q/v biases, SwiGLU with sub-LN, layer scale 0.1; token mean -> fc_norm -> linear head.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='hvt.FastiTPN', arch='small', img_size=224, drop_path_rate=0.1,
                  layer_scale_init_value=0.1, out_type='avg_featmap'),
    neck=None,  # the backbone pools and applies fc_norm (official use_mean_pooling=True)
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=384,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              # official head init: trunc_normal(0.02) scaled by init_scale 0.01
              init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-4, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

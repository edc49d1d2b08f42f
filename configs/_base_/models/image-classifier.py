# mmpretrain ImageClassifier: backbone -> global average pooling -> linear head, with the
# Mixup/CutMix batch augments of the DeiT recipe. Backbone configs replace `backbone` and
# `head.in_channels`.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              init_cfg=None),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
              dict(type='Constant', layer='LayerNorm', val=1., bias=0.)],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

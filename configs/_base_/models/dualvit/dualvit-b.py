# Dual-ViT-B ImageNet classifier (docs/design/dualvit.md#model-variants, paper Table 1): DualViT
# backbone in
# cls mode (stem width 64, last stage 512 channels / 16 heads) + the class-attention head.
# token_label=False is the plain model; the leaf *-tl configs switch on the token-labeling head.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='hvt.DualViT', arch='b', mode='cls', drop_path_rate=0.15),
    head=dict(
        type='hvt.DualViTClsHead',
        num_classes=1000,
        in_channels=512,
        num_heads=16,
        mlp_ratio=2.,
        token_label=False,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    ),
)

# CETNet-B, ImageNet-1k 224x224 (paper Table 1: 75M / 15.1G; top-1 83.8).
# Recipe (docs/design/cetnet.md#imagenet-recipe, "follows Swin"): 300 epochs, AdamW lr 1e-3 at batch
# 1024 (8 x 128), wd 0.05
# (none on norms, biases, relative-position tables), 20 warm-up epochs from 1e-6, cosine to 1e-5,
# grad clip 5.0, RandAugment m9-mstd0.5, random erasing 0.25, Mixup 0.8 / CutMix 1.0, label
# smoothing 0.1, test resize 256 + center crop 224. Drop path 0.5 [assumption: Swin's T/S/B values].
_base_ = [
    '../_base_/models/cetnet/cetnet-b.py',
    '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

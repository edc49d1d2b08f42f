# ResNet-18 on ImageNet-1k: the pipeline's reference classifier (mmpretrain's ResNet), not an HVT
# model. HVT's own classifiers live in configs/<family>/.
_base_ = [
    '../_base_/models/image-classifier.py', '../_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py'
]
model = dict(backbone=dict(type='ResNet', depth=18), head=dict(in_channels=512))
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = dict(batch_size=32)

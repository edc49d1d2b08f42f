# ViTAEv2-48M fine-tuned at 384 from the 224 model.
# Paper row: Table 3 "ViTAEv2-48M↑384" 48.5M / 41.1 GFLOPs / 84.7 top-1.
# Recipe: not given by the paper (docs/design/vitae.md#no-384-fine-tuning-recipe); the ViTAEv2-S 384
# fine-tune recipe.
_base_ = ['./vitaev2-s_8xb64_in1k-384px.py']

model = dict(backbone=dict(arch='48m', drop_path_rate=0.25), head=dict(in_channels=768))
load_from = None  # path to the 224 ViTAEv2-48M checkpoint

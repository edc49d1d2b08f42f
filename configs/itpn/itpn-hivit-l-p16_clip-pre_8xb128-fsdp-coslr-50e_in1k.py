# iTPN-L (HiViT-L, CLIP-target pre-trained) fine-tuning with fully sharded data parallel
# (mmengine FlexibleRunner + FSDPStrategy): every stage-3 HiViTBlock is one FSDP unit (the
# MLP-only early stages stay in the root unit); with_cp recomputes block activations in the
# backward pass. Same recipe as itpn-hivit-l-p16_clip-pre_8xb128-coslr-50e_in1k.py otherwise.
#   bash tools/dist_train.sh configs/itpn/itpn-hivit-l-p16_clip-pre_8xb128-fsdp-coslr-50e_in1k.py 8
# Checkpoints are full (state_dict_cfg='full'). See docs/reliability.md (FSDP).
_base_ = ['./itpn-hivit-l-p16_clip-pre_8xb128-coslr-50e_in1k.py']

runner_type = 'FlexibleRunner'
model = dict(backbone=dict(with_cp=True))
strategy = dict(
    type='hvt.FSDPStrategy',
    model_wrapper=dict(
        auto_wrap_policy=dict(type='hvt.layer_auto_wrap_policy', layer_cls=['HiViTBlock'])),
    state_dict_cfg='full')

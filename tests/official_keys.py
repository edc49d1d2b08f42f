"""Official state-dict key names of ViTAE, ViTAEv2, Dual-ViT, iTPN and Fast-iTPN models.

Every list was written by reading the module attribute names of the official model code (the
repository and file are named next to each list), never from HVT's modules, so the converter
tests in ``test_official_keys.py`` catch any drift of HVT's names from the real checkpoints. Each
list names every parameter and buffer of the modules it covers (``nn.Sequential`` children by
index, BatchNorm with its running statistics, ``register_buffer`` tensors, parameters created with
``requires_grad=False``). The tests generate the remaining blocks of a model from one listed block
with the official depths given here (:func:`repeat_block`).
"""
def repeat_block(keys, prefix, count, start=0, step=1):
    """``keys`` under ``prefix`` (e.g. ``'layers.2.NC.0.'``, whose last field is the block index)
    repeated for ``count`` blocks: index ``start``, ``start + step``, ..."""
    head, idx = prefix.rstrip('.').rsplit('.', 1)
    out = []
    for i in range(count):
        new = f'{head}.{int(start) + i * step}.'
        out += [new + k[len(prefix):] for k in keys if k.startswith(prefix)]
    return out


# ------------------------------------------------------------------------------------------------
# ViTAE (vanilla). ViTAE-Transformer/ViTAE-Transformer, Image-Classification/vitae/:
# ViTAE.py (ViTAE_basic_Tiny, ViTAE_basic_Base), vitmodules.py (ViTAE_ViT_basic, BasicLayer),
# ReductionCell.py (ReductionCell, PRM), token_performer.py (Token_performer),
# NormalCell.py (NormalCell, Attention, Mlp).
# ViTAE-T: RCs 'performer', 'performer', 'performer_less' (PRM only: PCM and attn are None);
# dilations [1, 2, 3, 4], [1, 2, 3], [1, 2]; NC_depth [0, 0, 7] ('transformer' NCs).
# ------------------------------------------------------------------------------------------------
VITAE_T_RC = [
    # layers.0: ReductionCell, tokens_type 'performer'
    'layers.0.RC.PCM.0.weight', 'layers.0.RC.PCM.0.bias',
    'layers.0.RC.PCM.2.weight', 'layers.0.RC.PCM.2.bias',
    'layers.0.RC.PCM.3.weight', 'layers.0.RC.PCM.3.bias', 'layers.0.RC.PCM.3.running_mean',
    'layers.0.RC.PCM.3.running_var', 'layers.0.RC.PCM.3.num_batches_tracked',
    'layers.0.RC.PCM.5.weight', 'layers.0.RC.PCM.5.bias',
    'layers.0.RC.PRM.convs.0.0.weight', 'layers.0.RC.PRM.convs.0.0.bias',
    'layers.0.RC.PRM.convs.1.0.weight', 'layers.0.RC.PRM.convs.1.0.bias',
    'layers.0.RC.PRM.convs.2.0.weight', 'layers.0.RC.PRM.convs.2.0.bias',
    'layers.0.RC.PRM.convs.3.0.weight', 'layers.0.RC.PRM.convs.3.0.bias',
    'layers.0.RC.attn.kqv.weight', 'layers.0.RC.attn.kqv.bias',
    'layers.0.RC.attn.proj.weight', 'layers.0.RC.attn.proj.bias',
    'layers.0.RC.attn.norm1.weight', 'layers.0.RC.attn.norm1.bias',
    'layers.0.RC.attn.norm2.weight', 'layers.0.RC.attn.norm2.bias',
    'layers.0.RC.attn.mlp.0.weight', 'layers.0.RC.attn.mlp.0.bias',
    'layers.0.RC.attn.mlp.2.weight', 'layers.0.RC.attn.mlp.2.bias',
    'layers.0.RC.attn.w',
    # layers.1: ReductionCell, tokens_type 'performer'
    'layers.1.RC.PCM.0.weight', 'layers.1.RC.PCM.0.bias',
    'layers.1.RC.PCM.2.weight', 'layers.1.RC.PCM.2.bias',
    'layers.1.RC.PCM.3.weight', 'layers.1.RC.PCM.3.bias', 'layers.1.RC.PCM.3.running_mean',
    'layers.1.RC.PCM.3.running_var', 'layers.1.RC.PCM.3.num_batches_tracked',
    'layers.1.RC.PCM.5.weight', 'layers.1.RC.PCM.5.bias',
    'layers.1.RC.PRM.convs.0.0.weight', 'layers.1.RC.PRM.convs.0.0.bias',
    'layers.1.RC.PRM.convs.1.0.weight', 'layers.1.RC.PRM.convs.1.0.bias',
    'layers.1.RC.PRM.convs.2.0.weight', 'layers.1.RC.PRM.convs.2.0.bias',
    'layers.1.RC.attn.kqv.weight', 'layers.1.RC.attn.kqv.bias',
    'layers.1.RC.attn.proj.weight', 'layers.1.RC.attn.proj.bias',
    'layers.1.RC.attn.norm1.weight', 'layers.1.RC.attn.norm1.bias',
    'layers.1.RC.attn.norm2.weight', 'layers.1.RC.attn.norm2.bias',
    'layers.1.RC.attn.mlp.0.weight', 'layers.1.RC.attn.mlp.0.bias',
    'layers.1.RC.attn.mlp.2.weight', 'layers.1.RC.attn.mlp.2.bias',
    'layers.1.RC.attn.w',
    # layers.2: ReductionCell, tokens_type 'performer_less'
    'layers.2.RC.PRM.convs.0.0.weight', 'layers.2.RC.PRM.convs.0.0.bias',
    'layers.2.RC.PRM.convs.1.0.weight', 'layers.2.RC.PRM.convs.1.0.bias',
]
# NormalCell, tokens_type 'transformer' (Attention with qkv_bias=True, the full PCM)
VITAE_NC = [
    'layers.2.NC.0.norm1.weight', 'layers.2.NC.0.norm1.bias',
    'layers.2.NC.0.attn.qkv.weight', 'layers.2.NC.0.attn.qkv.bias',
    'layers.2.NC.0.attn.proj.weight', 'layers.2.NC.0.attn.proj.bias',
    'layers.2.NC.0.norm2.weight', 'layers.2.NC.0.norm2.bias',
    'layers.2.NC.0.mlp.fc1.weight', 'layers.2.NC.0.mlp.fc1.bias',
    'layers.2.NC.0.mlp.fc2.weight', 'layers.2.NC.0.mlp.fc2.bias',
    'layers.2.NC.0.PCM.0.weight', 'layers.2.NC.0.PCM.0.bias',
    'layers.2.NC.0.PCM.1.weight', 'layers.2.NC.0.PCM.1.bias', 'layers.2.NC.0.PCM.1.running_mean',
    'layers.2.NC.0.PCM.1.running_var', 'layers.2.NC.0.PCM.1.num_batches_tracked',
    'layers.2.NC.0.PCM.3.weight', 'layers.2.NC.0.PCM.3.bias',
    'layers.2.NC.0.PCM.4.weight', 'layers.2.NC.0.PCM.4.bias', 'layers.2.NC.0.PCM.4.running_mean',
    'layers.2.NC.0.PCM.4.running_var', 'layers.2.NC.0.PCM.4.num_batches_tracked',
    'layers.2.NC.0.PCM.6.weight', 'layers.2.NC.0.PCM.6.bias',
]
VITAE_T_DEPTH = 7
CLS_HEAD = ['head.weight', 'head.bias']

# ViTAE-B (ViTAE_basic_Base): RC_tokens_type ['embedding', 'none', 'none'], downsample_ratios
# [16, 1, 1] (layers.1 / layers.2 RCs are nn.Identity), class_token=True, NC_depth [0, 0, 12],
# NC tokens_type 'transformer_shallow' (PCM: conv, BN, SiLU, conv). The 'embedding' RC holds
# timm's PatchEmbed (no norm) as PRM, a position embedding and a class token.
VITAE_B_STEM = ['layers.0.RC.pos_embed', 'layers.0.RC.cls_token', 'layers.0.RC.PRM.proj.weight',
                'layers.0.RC.PRM.proj.bias']
VITAE_B_NC = [
    'layers.2.NC.0.norm1.weight', 'layers.2.NC.0.norm1.bias',
    'layers.2.NC.0.attn.qkv.weight', 'layers.2.NC.0.attn.qkv.bias',
    'layers.2.NC.0.attn.proj.weight', 'layers.2.NC.0.attn.proj.bias',
    'layers.2.NC.0.norm2.weight', 'layers.2.NC.0.norm2.bias',
    'layers.2.NC.0.mlp.fc1.weight', 'layers.2.NC.0.mlp.fc1.bias',
    'layers.2.NC.0.mlp.fc2.weight', 'layers.2.NC.0.mlp.fc2.bias',
    'layers.2.NC.0.PCM.0.weight', 'layers.2.NC.0.PCM.0.bias',
    'layers.2.NC.0.PCM.1.weight', 'layers.2.NC.0.PCM.1.bias', 'layers.2.NC.0.PCM.1.running_mean',
    'layers.2.NC.0.PCM.1.running_var', 'layers.2.NC.0.PCM.1.num_batches_tracked',
    'layers.2.NC.0.PCM.3.weight', 'layers.2.NC.0.PCM.3.bias',
]
VITAE_B_HEAD = ['fc_norm.weight', 'fc_norm.bias', 'head.weight', 'head.bias']
VITAE_B_DEPTH = 12

# ------------------------------------------------------------------------------------------------
# ViTAEv2-S. ViTAE-Transformer/ViTAE-Transformer, Image-Classification/vitaev2/: ViTAEv2.py
# (ViTAEv2_S), vitmodules.py (ViTAEv2_basic, BasicLayer), ReductionCell.py (ReductionCell, PRM),
# NormalCell.py (NormalCell, Attention, Mlp), window.py (WindowTransformerBlock, WindowAttention,
# which registers relative_position_index; attn_mask is a None buffer for shift 0),
# token_transformer.py (Token_transformer: its Attention is built without qkv bias).
# RC/NC tokens_type ['window', 'window', 'transformer', 'transformer'], dilations
# [1, 2, 3, 4], [1, 2, 3], [1, 2], [1, 2]; NC_depth [2, 2, 8, 2]. RC PCM: conv, BN, SiLU, conv,
# BN, SiLU, conv.
# ------------------------------------------------------------------------------------------------
VITAEV2_S_STAGES = [
    # stage 0: window RC + window NC
    'layers.0.RC.PCM.0.weight', 'layers.0.RC.PCM.0.bias',
    'layers.0.RC.PCM.1.weight', 'layers.0.RC.PCM.1.bias', 'layers.0.RC.PCM.1.running_mean',
    'layers.0.RC.PCM.1.running_var', 'layers.0.RC.PCM.1.num_batches_tracked',
    'layers.0.RC.PCM.3.weight', 'layers.0.RC.PCM.3.bias',
    'layers.0.RC.PCM.4.weight', 'layers.0.RC.PCM.4.bias', 'layers.0.RC.PCM.4.running_mean',
    'layers.0.RC.PCM.4.running_var', 'layers.0.RC.PCM.4.num_batches_tracked',
    'layers.0.RC.PCM.6.weight', 'layers.0.RC.PCM.6.bias',
    'layers.0.RC.PRM.convs.0.0.weight', 'layers.0.RC.PRM.convs.0.0.bias',
    'layers.0.RC.PRM.convs.1.0.weight', 'layers.0.RC.PRM.convs.1.0.bias',
    'layers.0.RC.PRM.convs.2.0.weight', 'layers.0.RC.PRM.convs.2.0.bias',
    'layers.0.RC.PRM.convs.3.0.weight', 'layers.0.RC.PRM.convs.3.0.bias',
    'layers.0.RC.attn.norm1.weight', 'layers.0.RC.attn.norm1.bias',
    'layers.0.RC.attn.attn.qkv.weight', 'layers.0.RC.attn.attn.qkv.bias',
    'layers.0.RC.attn.attn.relative_position_index',
    'layers.0.RC.attn.attn.proj.weight', 'layers.0.RC.attn.attn.proj.bias',
    'layers.0.RC.attn.norm2.weight', 'layers.0.RC.attn.norm2.bias',
    'layers.0.RC.attn.mlp.fc1.weight', 'layers.0.RC.attn.mlp.fc1.bias',
    'layers.0.RC.attn.mlp.fc2.weight', 'layers.0.RC.attn.mlp.fc2.bias',
    'layers.0.NC.0.norm1.weight', 'layers.0.NC.0.norm1.bias',
    'layers.0.NC.0.attn.qkv.weight', 'layers.0.NC.0.attn.qkv.bias',
    'layers.0.NC.0.attn.relative_position_index',
    'layers.0.NC.0.attn.proj.weight', 'layers.0.NC.0.attn.proj.bias',
    'layers.0.NC.0.norm2.weight', 'layers.0.NC.0.norm2.bias',
    'layers.0.NC.0.mlp.fc1.weight', 'layers.0.NC.0.mlp.fc1.bias',
    'layers.0.NC.0.mlp.fc2.weight', 'layers.0.NC.0.mlp.fc2.bias',
    'layers.0.NC.0.PCM.0.weight', 'layers.0.NC.0.PCM.0.bias',
    'layers.0.NC.0.PCM.1.weight', 'layers.0.NC.0.PCM.1.bias', 'layers.0.NC.0.PCM.1.running_mean',
    'layers.0.NC.0.PCM.1.running_var', 'layers.0.NC.0.PCM.1.num_batches_tracked',
    'layers.0.NC.0.PCM.3.weight', 'layers.0.NC.0.PCM.3.bias',
    'layers.0.NC.0.PCM.4.weight', 'layers.0.NC.0.PCM.4.bias', 'layers.0.NC.0.PCM.4.running_mean',
    'layers.0.NC.0.PCM.4.running_var', 'layers.0.NC.0.PCM.4.num_batches_tracked',
    'layers.0.NC.0.PCM.6.weight', 'layers.0.NC.0.PCM.6.bias',
    # stage 1: window RC + window NC
    'layers.1.RC.PCM.0.weight', 'layers.1.RC.PCM.0.bias',
    'layers.1.RC.PCM.1.weight', 'layers.1.RC.PCM.1.bias', 'layers.1.RC.PCM.1.running_mean',
    'layers.1.RC.PCM.1.running_var', 'layers.1.RC.PCM.1.num_batches_tracked',
    'layers.1.RC.PCM.3.weight', 'layers.1.RC.PCM.3.bias',
    'layers.1.RC.PCM.4.weight', 'layers.1.RC.PCM.4.bias', 'layers.1.RC.PCM.4.running_mean',
    'layers.1.RC.PCM.4.running_var', 'layers.1.RC.PCM.4.num_batches_tracked',
    'layers.1.RC.PCM.6.weight', 'layers.1.RC.PCM.6.bias',
    'layers.1.RC.PRM.convs.0.0.weight', 'layers.1.RC.PRM.convs.0.0.bias',
    'layers.1.RC.PRM.convs.1.0.weight', 'layers.1.RC.PRM.convs.1.0.bias',
    'layers.1.RC.PRM.convs.2.0.weight', 'layers.1.RC.PRM.convs.2.0.bias',
    'layers.1.RC.attn.norm1.weight', 'layers.1.RC.attn.norm1.bias',
    'layers.1.RC.attn.attn.qkv.weight', 'layers.1.RC.attn.attn.qkv.bias',
    'layers.1.RC.attn.attn.relative_position_index',
    'layers.1.RC.attn.attn.proj.weight', 'layers.1.RC.attn.attn.proj.bias',
    'layers.1.RC.attn.norm2.weight', 'layers.1.RC.attn.norm2.bias',
    'layers.1.RC.attn.mlp.fc1.weight', 'layers.1.RC.attn.mlp.fc1.bias',
    'layers.1.RC.attn.mlp.fc2.weight', 'layers.1.RC.attn.mlp.fc2.bias',
    'layers.1.NC.0.norm1.weight', 'layers.1.NC.0.norm1.bias',
    'layers.1.NC.0.attn.qkv.weight', 'layers.1.NC.0.attn.qkv.bias',
    'layers.1.NC.0.attn.relative_position_index',
    'layers.1.NC.0.attn.proj.weight', 'layers.1.NC.0.attn.proj.bias',
    'layers.1.NC.0.norm2.weight', 'layers.1.NC.0.norm2.bias',
    'layers.1.NC.0.mlp.fc1.weight', 'layers.1.NC.0.mlp.fc1.bias',
    'layers.1.NC.0.mlp.fc2.weight', 'layers.1.NC.0.mlp.fc2.bias',
    'layers.1.NC.0.PCM.0.weight', 'layers.1.NC.0.PCM.0.bias',
    'layers.1.NC.0.PCM.1.weight', 'layers.1.NC.0.PCM.1.bias', 'layers.1.NC.0.PCM.1.running_mean',
    'layers.1.NC.0.PCM.1.running_var', 'layers.1.NC.0.PCM.1.num_batches_tracked',
    'layers.1.NC.0.PCM.3.weight', 'layers.1.NC.0.PCM.3.bias',
    'layers.1.NC.0.PCM.4.weight', 'layers.1.NC.0.PCM.4.bias', 'layers.1.NC.0.PCM.4.running_mean',
    'layers.1.NC.0.PCM.4.running_var', 'layers.1.NC.0.PCM.4.num_batches_tracked',
    'layers.1.NC.0.PCM.6.weight', 'layers.1.NC.0.PCM.6.bias',
    # stage 2: transformer RC (Token_transformer, no qkv bias) + transformer NC
    'layers.2.RC.PCM.0.weight', 'layers.2.RC.PCM.0.bias',
    'layers.2.RC.PCM.1.weight', 'layers.2.RC.PCM.1.bias', 'layers.2.RC.PCM.1.running_mean',
    'layers.2.RC.PCM.1.running_var', 'layers.2.RC.PCM.1.num_batches_tracked',
    'layers.2.RC.PCM.3.weight', 'layers.2.RC.PCM.3.bias',
    'layers.2.RC.PCM.4.weight', 'layers.2.RC.PCM.4.bias', 'layers.2.RC.PCM.4.running_mean',
    'layers.2.RC.PCM.4.running_var', 'layers.2.RC.PCM.4.num_batches_tracked',
    'layers.2.RC.PCM.6.weight', 'layers.2.RC.PCM.6.bias',
    'layers.2.RC.PRM.convs.0.0.weight', 'layers.2.RC.PRM.convs.0.0.bias',
    'layers.2.RC.PRM.convs.1.0.weight', 'layers.2.RC.PRM.convs.1.0.bias',
    'layers.2.RC.attn.norm1.weight', 'layers.2.RC.attn.norm1.bias',
    'layers.2.RC.attn.attn.qkv.weight',
    'layers.2.RC.attn.attn.proj.weight', 'layers.2.RC.attn.attn.proj.bias',
    'layers.2.RC.attn.norm2.weight', 'layers.2.RC.attn.norm2.bias',
    'layers.2.RC.attn.mlp.fc1.weight', 'layers.2.RC.attn.mlp.fc1.bias',
    'layers.2.RC.attn.mlp.fc2.weight', 'layers.2.RC.attn.mlp.fc2.bias',
    'layers.2.NC.0.norm1.weight', 'layers.2.NC.0.norm1.bias',
    'layers.2.NC.0.attn.qkv.weight', 'layers.2.NC.0.attn.qkv.bias',
    'layers.2.NC.0.attn.proj.weight', 'layers.2.NC.0.attn.proj.bias',
    'layers.2.NC.0.norm2.weight', 'layers.2.NC.0.norm2.bias',
    'layers.2.NC.0.mlp.fc1.weight', 'layers.2.NC.0.mlp.fc1.bias',
    'layers.2.NC.0.mlp.fc2.weight', 'layers.2.NC.0.mlp.fc2.bias',
    'layers.2.NC.0.PCM.0.weight', 'layers.2.NC.0.PCM.0.bias',
    'layers.2.NC.0.PCM.1.weight', 'layers.2.NC.0.PCM.1.bias', 'layers.2.NC.0.PCM.1.running_mean',
    'layers.2.NC.0.PCM.1.running_var', 'layers.2.NC.0.PCM.1.num_batches_tracked',
    'layers.2.NC.0.PCM.3.weight', 'layers.2.NC.0.PCM.3.bias',
    'layers.2.NC.0.PCM.4.weight', 'layers.2.NC.0.PCM.4.bias', 'layers.2.NC.0.PCM.4.running_mean',
    'layers.2.NC.0.PCM.4.running_var', 'layers.2.NC.0.PCM.4.num_batches_tracked',
    'layers.2.NC.0.PCM.6.weight', 'layers.2.NC.0.PCM.6.bias',
    # stage 3: transformer RC + transformer NC
    'layers.3.RC.PCM.0.weight', 'layers.3.RC.PCM.0.bias',
    'layers.3.RC.PCM.1.weight', 'layers.3.RC.PCM.1.bias', 'layers.3.RC.PCM.1.running_mean',
    'layers.3.RC.PCM.1.running_var', 'layers.3.RC.PCM.1.num_batches_tracked',
    'layers.3.RC.PCM.3.weight', 'layers.3.RC.PCM.3.bias',
    'layers.3.RC.PCM.4.weight', 'layers.3.RC.PCM.4.bias', 'layers.3.RC.PCM.4.running_mean',
    'layers.3.RC.PCM.4.running_var', 'layers.3.RC.PCM.4.num_batches_tracked',
    'layers.3.RC.PCM.6.weight', 'layers.3.RC.PCM.6.bias',
    'layers.3.RC.PRM.convs.0.0.weight', 'layers.3.RC.PRM.convs.0.0.bias',
    'layers.3.RC.PRM.convs.1.0.weight', 'layers.3.RC.PRM.convs.1.0.bias',
    'layers.3.RC.attn.norm1.weight', 'layers.3.RC.attn.norm1.bias',
    'layers.3.RC.attn.attn.qkv.weight',
    'layers.3.RC.attn.attn.proj.weight', 'layers.3.RC.attn.attn.proj.bias',
    'layers.3.RC.attn.norm2.weight', 'layers.3.RC.attn.norm2.bias',
    'layers.3.RC.attn.mlp.fc1.weight', 'layers.3.RC.attn.mlp.fc1.bias',
    'layers.3.RC.attn.mlp.fc2.weight', 'layers.3.RC.attn.mlp.fc2.bias',
    'layers.3.NC.0.norm1.weight', 'layers.3.NC.0.norm1.bias',
    'layers.3.NC.0.attn.qkv.weight', 'layers.3.NC.0.attn.qkv.bias',
    'layers.3.NC.0.attn.proj.weight', 'layers.3.NC.0.attn.proj.bias',
    'layers.3.NC.0.norm2.weight', 'layers.3.NC.0.norm2.bias',
    'layers.3.NC.0.mlp.fc1.weight', 'layers.3.NC.0.mlp.fc1.bias',
    'layers.3.NC.0.mlp.fc2.weight', 'layers.3.NC.0.mlp.fc2.bias',
    'layers.3.NC.0.PCM.0.weight', 'layers.3.NC.0.PCM.0.bias',
    'layers.3.NC.0.PCM.1.weight', 'layers.3.NC.0.PCM.1.bias', 'layers.3.NC.0.PCM.1.running_mean',
    'layers.3.NC.0.PCM.1.running_var', 'layers.3.NC.0.PCM.1.num_batches_tracked',
    'layers.3.NC.0.PCM.3.weight', 'layers.3.NC.0.PCM.3.bias',
    'layers.3.NC.0.PCM.4.weight', 'layers.3.NC.0.PCM.4.bias', 'layers.3.NC.0.PCM.4.running_mean',
    'layers.3.NC.0.PCM.4.running_var', 'layers.3.NC.0.PCM.4.num_batches_tracked',
    'layers.3.NC.0.PCM.6.weight', 'layers.3.NC.0.PCM.6.bias',
]
VITAEV2_S_DEPTHS = (2, 2, 8, 2)
# the window attentions' (49, 49) relative_position_index buffers in the list above
VITAEV2_RPE_INDEX = [k for k in VITAEV2_S_STAGES if k.endswith('relative_position_index')]
# Downstream backbones: ViTAE-Transformer/ViTAE-Transformer, Object-Detection/mmdet/models/
# backbones/vitaev2.py (ViTAEv2) with vitaev2_modules/window.py, and Semantic-Segmentation/mmseg/
# models/backbones/vitaev2.py (same modules): the relative_position_index buffer is commented out,
# so the detection / segmentation backbones hold VITAEV2_S_STAGES without VITAEV2_RPE_INDEX.
# Animal-Pose-Estimation/mmpose/models/backbones/ViTAEv2.py with Animal-Pose-Estimation/ViTAEv2/
# window.py (WindowAttention): the window attentions always create relative_position_bias_table
# (2*7-1)^2 x heads (never read in forward) and the relative_position_index buffer:
VITAEV2_POSE_RPE = [
    'layers.0.RC.attn.attn.relative_position_bias_table',
    'layers.0.RC.attn.attn.relative_position_index',
    'layers.0.NC.0.attn.relative_position_bias_table',
    'layers.0.NC.0.attn.relative_position_index',
    'layers.1.RC.attn.attn.relative_position_bias_table',
    'layers.1.RC.attn.attn.relative_position_index',
    'layers.1.NC.0.attn.relative_position_bias_table',
    'layers.1.NC.0.attn.relative_position_index',
]
# heads (RC_heads [1, 1, 2, 4], NC_heads [1, 2, 4, 8]) of those tables, for their shapes
VITAEV2_S_WINDOW_HEADS = {'layers.0.RC': 1, 'layers.0.NC': 1, 'layers.1.RC': 1, 'layers.1.NC': 2}

# ------------------------------------------------------------------------------------------------
# Dual-ViT-S. YehLi/ImageNetModel, classification/dualvit.py: DualViT (dualvit_s), Stem,
# DownSamples, SemanticEmbed, DualBlock / DualAttention / PVT2FFN / DWConv (stages 1-2),
# MergeBlock / Attention / MergeFFN (stages 3-4), ClassBlock / ClassAttention / FFN
# (post_network). depths [3, 4, 6, 3]; token_label=True adds aux_head.
# Detection / segmentation: object_detection/dualvit.py and semantic_segmentation/mmseg/models/
# backbones/dualvit.py (DualVit): the same modules without post_network / head / aux_head; the last
# MergeBlock (is_last) has a PVT2FFN, i.e. no mlp.fc_proxy.
# ------------------------------------------------------------------------------------------------
DUALVIT_STEM = [
    'patch_embed1.conv.0.weight',
    'patch_embed1.conv.1.weight', 'patch_embed1.conv.1.bias', 'patch_embed1.conv.1.running_mean',
    'patch_embed1.conv.1.running_var', 'patch_embed1.conv.1.num_batches_tracked',
    'patch_embed1.conv.3.weight',
    'patch_embed1.conv.4.weight', 'patch_embed1.conv.4.bias', 'patch_embed1.conv.4.running_mean',
    'patch_embed1.conv.4.running_var', 'patch_embed1.conv.4.num_batches_tracked',
    'patch_embed1.conv.6.weight',
    'patch_embed1.conv.7.weight', 'patch_embed1.conv.7.bias', 'patch_embed1.conv.7.running_mean',
    'patch_embed1.conv.7.running_var', 'patch_embed1.conv.7.num_batches_tracked',
    'patch_embed1.proj.weight', 'patch_embed1.proj.bias',
    'patch_embed1.norm.weight', 'patch_embed1.norm.bias',
    # the stage-1 semantic-token initialisation (DualViT.__init__, i == 0)
    'q', 'q_embed.0.weight', 'q_embed.0.bias', 'q_embed.1.weight', 'q_embed.1.bias',
    'kv.weight', 'kv.bias', 'proxy_ln.weight', 'proxy_ln.bias',
    'se.0.weight', 'se.0.bias', 'se.2.weight', 'se.2.bias',
]
DUALVIT_DUAL_BLOCKS = [  # one DualBlock of stage 1 and of stage 2
    'block1.0.norm1.weight', 'block1.0.norm1.bias', 'block1.0.norm2.weight', 'block1.0.norm2.bias',
    'block1.0.attn.q.weight', 'block1.0.attn.q.bias',
    'block1.0.attn.kv.weight', 'block1.0.attn.kv.bias',
    'block1.0.attn.proj.weight', 'block1.0.attn.proj.bias',
    'block1.0.attn.q_proxy.weight', 'block1.0.attn.q_proxy.bias',
    'block1.0.attn.kv_proxy.weight', 'block1.0.attn.kv_proxy.bias',
    'block1.0.attn.q_proxy_ln.weight', 'block1.0.attn.q_proxy_ln.bias',
    'block1.0.attn.p_ln.weight', 'block1.0.attn.p_ln.bias',
    'block1.0.attn.mlp_proxy.0.weight', 'block1.0.attn.mlp_proxy.0.bias',
    'block1.0.attn.mlp_proxy.2.weight', 'block1.0.attn.mlp_proxy.2.bias',
    'block1.0.attn.proxy_ln.weight', 'block1.0.attn.proxy_ln.bias',
    'block1.0.attn.qkv_proxy.0.weight', 'block1.0.attn.qkv_proxy.0.bias',
    'block1.0.attn.qkv_proxy.1.weight', 'block1.0.attn.qkv_proxy.1.bias',
    'block1.0.attn.gamma1', 'block1.0.attn.gamma2', 'block1.0.attn.gamma3',
    'block1.0.mlp.fc1.weight', 'block1.0.mlp.fc1.bias',
    'block1.0.mlp.dwconv.dwconv.weight', 'block1.0.mlp.dwconv.dwconv.bias',
    'block1.0.mlp.fc2.weight', 'block1.0.mlp.fc2.bias',
    'block1.0.gamma1', 'block1.0.gamma2',
    'block2.0.norm1.weight', 'block2.0.norm1.bias', 'block2.0.norm2.weight', 'block2.0.norm2.bias',
    'block2.0.attn.q.weight', 'block2.0.attn.q.bias',
    'block2.0.attn.kv.weight', 'block2.0.attn.kv.bias',
    'block2.0.attn.proj.weight', 'block2.0.attn.proj.bias',
    'block2.0.attn.q_proxy.weight', 'block2.0.attn.q_proxy.bias',
    'block2.0.attn.kv_proxy.weight', 'block2.0.attn.kv_proxy.bias',
    'block2.0.attn.q_proxy_ln.weight', 'block2.0.attn.q_proxy_ln.bias',
    'block2.0.attn.p_ln.weight', 'block2.0.attn.p_ln.bias',
    'block2.0.attn.mlp_proxy.0.weight', 'block2.0.attn.mlp_proxy.0.bias',
    'block2.0.attn.mlp_proxy.2.weight', 'block2.0.attn.mlp_proxy.2.bias',
    'block2.0.attn.proxy_ln.weight', 'block2.0.attn.proxy_ln.bias',
    'block2.0.attn.qkv_proxy.0.weight', 'block2.0.attn.qkv_proxy.0.bias',
    'block2.0.attn.qkv_proxy.1.weight', 'block2.0.attn.qkv_proxy.1.bias',
    'block2.0.attn.gamma1', 'block2.0.attn.gamma2', 'block2.0.attn.gamma3',
    'block2.0.mlp.fc1.weight', 'block2.0.mlp.fc1.bias',
    'block2.0.mlp.dwconv.dwconv.weight', 'block2.0.mlp.dwconv.dwconv.bias',
    'block2.0.mlp.fc2.weight', 'block2.0.mlp.fc2.bias',
    'block2.0.gamma1', 'block2.0.gamma2',
]
DUALVIT_MERGE_BLOCKS = [  # one MergeBlock of stage 3 and of stage 4
    'block3.0.norm1.weight', 'block3.0.norm1.bias', 'block3.0.norm2.weight', 'block3.0.norm2.bias',
    'block3.0.attn.q.weight', 'block3.0.attn.q.bias',
    'block3.0.attn.kv.weight', 'block3.0.attn.kv.bias',
    'block3.0.attn.proj.weight', 'block3.0.attn.proj.bias',
    'block3.0.mlp.fc1.weight', 'block3.0.mlp.fc1.bias',
    'block3.0.mlp.dwconv.dwconv.weight', 'block3.0.mlp.dwconv.dwconv.bias',
    'block3.0.mlp.fc2.weight', 'block3.0.mlp.fc2.bias',
    'block3.0.mlp.fc_proxy.0.weight', 'block3.0.mlp.fc_proxy.0.bias',
    'block3.0.mlp.fc_proxy.2.weight', 'block3.0.mlp.fc_proxy.2.bias',
    'block3.0.gamma1', 'block3.0.gamma2',
    'block4.0.norm1.weight', 'block4.0.norm1.bias', 'block4.0.norm2.weight', 'block4.0.norm2.bias',
    'block4.0.attn.q.weight', 'block4.0.attn.q.bias',
    'block4.0.attn.kv.weight', 'block4.0.attn.kv.bias',
    'block4.0.attn.proj.weight', 'block4.0.attn.proj.bias',
    'block4.0.mlp.fc1.weight', 'block4.0.mlp.fc1.bias',
    'block4.0.mlp.dwconv.dwconv.weight', 'block4.0.mlp.dwconv.dwconv.bias',
    'block4.0.mlp.fc2.weight', 'block4.0.mlp.fc2.bias',
    'block4.0.mlp.fc_proxy.0.weight', 'block4.0.mlp.fc_proxy.0.bias',
    'block4.0.mlp.fc_proxy.2.weight', 'block4.0.mlp.fc_proxy.2.bias',
    'block4.0.gamma1', 'block4.0.gamma2',
]
DUALVIT_STAGE_LINKS = [  # per-stage norms, DownSamples and SemanticEmbed
    'norm1.weight', 'norm1.bias', 'norm_proxy1.weight', 'norm_proxy1.bias',
    'patch_embed2.proj.weight', 'patch_embed2.proj.bias',
    'patch_embed2.norm.weight', 'patch_embed2.norm.bias',
    'proxy_embed2.proj_proxy.0.weight', 'proxy_embed2.proj_proxy.0.bias',
    'proxy_embed2.proj_proxy.1.weight', 'proxy_embed2.proj_proxy.1.bias',
    'norm2.weight', 'norm2.bias', 'norm_proxy2.weight', 'norm_proxy2.bias',
    'patch_embed3.proj.weight', 'patch_embed3.proj.bias',
    'patch_embed3.norm.weight', 'patch_embed3.norm.bias',
    'proxy_embed3.proj_proxy.0.weight', 'proxy_embed3.proj_proxy.0.bias',
    'proxy_embed3.proj_proxy.1.weight', 'proxy_embed3.proj_proxy.1.bias',
    'norm3.weight', 'norm3.bias', 'norm_proxy3.weight', 'norm_proxy3.bias',
    'patch_embed4.proj.weight', 'patch_embed4.proj.bias',
    'patch_embed4.norm.weight', 'patch_embed4.norm.bias',
    'proxy_embed4.proj_proxy.0.weight', 'proxy_embed4.proj_proxy.0.bias',
    'proxy_embed4.proj_proxy.1.weight', 'proxy_embed4.proj_proxy.1.bias',
    'norm4.weight', 'norm4.bias',
]
DUALVIT_CLS_HEAD = [
    'post_network.0.norm1.weight', 'post_network.0.norm1.bias',
    'post_network.0.norm2.weight', 'post_network.0.norm2.bias',
    'post_network.0.attn.kv.weight', 'post_network.0.attn.kv.bias',
    'post_network.0.attn.q.weight', 'post_network.0.attn.q.bias',
    'post_network.0.attn.proj.weight', 'post_network.0.attn.proj.bias',
    'post_network.0.mlp.fc1.weight', 'post_network.0.mlp.fc1.bias',
    'post_network.0.mlp.fc2.weight', 'post_network.0.mlp.fc2.bias',
    'head.weight', 'head.bias', 'aux_head.weight', 'aux_head.bias',
]
DUALVIT_S_DEPTHS = (3, 4, 6, 3)
DUALVIT_FC_PROXY = ('mlp.fc_proxy.0.weight', 'mlp.fc_proxy.0.bias', 'mlp.fc_proxy.2.weight',
                    'mlp.fc_proxy.2.bias')

# ------------------------------------------------------------------------------------------------
# iTPN-B (HiViT-B: 3 + 3 MLP blocks, 24 attention blocks, 512-d). sunsmarterjie/iTPN:
# itpn_pixel/models/models_itpn_mim.py (iTPNMaskedAutoencoder, itpn_base_dec512d8b: rpe=False,
# fpn_depth 2, num_outs 3, decoder 512-d x 8), itpn_clip/modeling_pretrain.py (iTPNClipDistill,
# clip_tpn_base_3324_patch16_224: fpn_depth 1, num_outs 3; the pre-training script passes
# rel_pos_bias=True and layer_scale_init_value=0.1), itpn_pixel/models/models_itpn.py (iTPN,
# itpn_base: rpe=True, num_outs 1 -> fc_norm + head), det/mmdet/models/backbones/iTPN_pixel.py /
# iTPN_CLIP.py (iTPN_pixel / iTPN_CLIP, with the det/configs/itpn/*: fpn_dim 256, fpn_depth 1,
# num_outs 5, rpe False; init_values 0.1 for CLIP), seg/backbone/iTPN.py (iTPN with
# seg/configs/itpn/pixel_upernet_itpn_base_12_512_slide_160k_ade20k_pt2ft.py: img 512, rpe True,
# fpn_depth 2, num_outs 4). Shared modules: PatchEmbed (proj, norm), BlockWithRPE (norm1 / attn
# only with heads, timm Mlp, gamma_1 / gamma_2 with init_values), PatchMerge, PatchSplit.
# ------------------------------------------------------------------------------------------------
ITPN_STEM = ['patch_embed.proj.weight', 'patch_embed.proj.bias', 'patch_embed.norm.weight',
             'patch_embed.norm.bias', 'absolute_pos_embed']
ITPN_BLOCKS = [
    # stage 1: MLP-only BlockWithRPE (no heads)
    'blocks.0.norm2.weight', 'blocks.0.norm2.bias',
    'blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc1.bias',
    'blocks.0.mlp.fc2.weight', 'blocks.0.mlp.fc2.bias',
    # PatchMerge
    'blocks.3.norm.weight', 'blocks.3.norm.bias', 'blocks.3.reduction.weight',
    # stage 2: MLP-only BlockWithRPE
    'blocks.4.norm2.weight', 'blocks.4.norm2.bias',
    'blocks.4.mlp.fc1.weight', 'blocks.4.mlp.fc1.bias',
    'blocks.4.mlp.fc2.weight', 'blocks.4.mlp.fc2.bias',
    # PatchMerge
    'blocks.7.norm.weight', 'blocks.7.norm.bias', 'blocks.7.reduction.weight',
    # stage 3: BlockWithRPE with attention
    'blocks.8.norm1.weight', 'blocks.8.norm1.bias',
    'blocks.8.attn.qkv.weight', 'blocks.8.attn.qkv.bias',
    'blocks.8.attn.proj.weight', 'blocks.8.attn.proj.bias',
    'blocks.8.norm2.weight', 'blocks.8.norm2.bias',
    'blocks.8.mlp.fc1.weight', 'blocks.8.mlp.fc1.bias',
    'blocks.8.mlp.fc2.weight', 'blocks.8.mlp.fc2.bias',
]
ITPN_B_DEPTHS = (3, 3, 24)  # blocks 0-2, merge 3, blocks 4-6, merge 7, blocks 8-31
# rpe=True: the model's (N, N) index buffer and each attention block's table
ITPN_RPE = ['relative_position_index', 'blocks.8.attn.relative_position_bias_table']
# init_values (layer scale): gamma_1 only where there is an attention
ITPN_LAYER_SCALE = ['blocks.0.gamma_2', 'blocks.4.gamma_2', 'blocks.8.gamma_1', 'blocks.8.gamma_2']
ITPN_PYRAMID = [  # fpn_depth 1 (block_16to8.0, block_8to4.0); fpn_dim 256 != 512 -> align_16tofpn
    'align_dim_16tofpn.weight', 'align_dim_16tofpn.bias',
    'fpn_modules.0.norm2.weight', 'fpn_modules.0.norm2.bias',
    'fpn_modules.0.mlp.fc1.weight', 'fpn_modules.0.mlp.fc1.bias',
    'fpn_modules.0.mlp.fc2.weight', 'fpn_modules.0.mlp.fc2.bias',
    'fpn_modules.1.norm2.weight', 'fpn_modules.1.norm2.bias',
    'fpn_modules.1.mlp.fc1.weight', 'fpn_modules.1.mlp.fc1.bias',
    'fpn_modules.1.mlp.fc2.weight', 'fpn_modules.1.mlp.fc2.bias',
    'fpn_modules.2.norm2.weight', 'fpn_modules.2.norm2.bias',
    'fpn_modules.2.mlp.fc1.weight', 'fpn_modules.2.mlp.fc1.bias',
    'fpn_modules.2.mlp.fc2.weight', 'fpn_modules.2.mlp.fc2.bias',
    'align_dim_16to8.weight',
    'split_16to8.norm.weight', 'split_16to8.norm.bias', 'split_16to8.reduction.weight',
    'block_16to8.0.norm2.weight', 'block_16to8.0.norm2.bias',
    'block_16to8.0.mlp.fc1.weight', 'block_16to8.0.mlp.fc1.bias',
    'block_16to8.0.mlp.fc2.weight', 'block_16to8.0.mlp.fc2.bias',
    'align_dim_8to4.weight',
    'split_8to4.norm.weight', 'split_8to4.norm.bias', 'split_8to4.reduction.weight',
    'block_8to4.0.norm2.weight', 'block_8to4.0.norm2.bias',
    'block_8to4.0.mlp.fc1.weight', 'block_8to4.0.mlp.fc1.bias',
    'block_8to4.0.mlp.fc2.weight', 'block_8to4.0.mlp.fc2.bias',
]
ITPN_PIXEL_DECODER = [  # iTPNMaskedAutoencoder's MAE decoder
    'decoder_embed.0.0.weight', 'decoder_embed.0.0.bias',
    'decoder_embed.0.1.weight', 'decoder_embed.0.1.bias',
    'decoder_embed.1.0.weight', 'decoder_embed.1.0.bias',
    'decoder_embed.1.1.weight', 'decoder_embed.1.1.bias',
    'decoder_embed.2.0.weight', 'decoder_embed.2.0.bias',
    'decoder_embed.2.1.weight', 'decoder_embed.2.1.bias',
    'mask_token', 'decoder_pos_embed',
    'decoder_blocks.0.norm1.weight', 'decoder_blocks.0.norm1.bias',
    'decoder_blocks.0.attn.qkv.weight', 'decoder_blocks.0.attn.qkv.bias',
    'decoder_blocks.0.attn.proj.weight', 'decoder_blocks.0.attn.proj.bias',
    'decoder_blocks.0.norm2.weight', 'decoder_blocks.0.norm2.bias',
    'decoder_blocks.0.mlp.fc1.weight', 'decoder_blocks.0.mlp.fc1.bias',
    'decoder_blocks.0.mlp.fc2.weight', 'decoder_blocks.0.mlp.fc2.bias',
    'decoder_norm.weight', 'decoder_norm.bias', 'decoder_pred.weight', 'decoder_pred.bias',
]
ITPN_PIXEL_DECODER_DEPTH = 8
ITPN_CLIP_HEADS = [  # iTPNClipDistill: fusion, stage-3 mask token, heads, two aux blocks (rpe)
    'decoder_embed.0.0.weight', 'decoder_embed.0.0.bias',
    'decoder_embed.0.1.weight', 'decoder_embed.0.1.bias',
    'decoder_embed.1.0.weight', 'decoder_embed.1.0.bias',
    'decoder_embed.1.1.weight', 'decoder_embed.1.1.bias',
    'decoder_embed.2.0.weight', 'decoder_embed.2.0.bias',
    'decoder_embed.2.1.weight', 'decoder_embed.2.1.bias',
    'mask_token', 'lm_head.weight', 'lm_head.bias', 'lm_cls_head.weight', 'lm_cls_head.bias',
    'norm.weight', 'norm.bias', 'norm_cls.weight', 'norm_cls.bias',
    'cls_pt_layers.0.norm1.weight', 'cls_pt_layers.0.norm1.bias',
    'cls_pt_layers.0.attn.relative_position_bias_table',
    'cls_pt_layers.0.attn.qkv.weight', 'cls_pt_layers.0.attn.qkv.bias',
    'cls_pt_layers.0.attn.proj.weight', 'cls_pt_layers.0.attn.proj.bias',
    'cls_pt_layers.0.norm2.weight', 'cls_pt_layers.0.norm2.bias',
    'cls_pt_layers.0.mlp.fc1.weight', 'cls_pt_layers.0.mlp.fc1.bias',
    'cls_pt_layers.0.mlp.fc2.weight', 'cls_pt_layers.0.mlp.fc2.bias',
    'cls_pt_layers.0.gamma_1', 'cls_pt_layers.0.gamma_2',
]
ITPN_FINETUNE_HEAD = ['fc_norm.weight', 'fc_norm.bias', 'head.weight', 'head.bias']

# ------------------------------------------------------------------------------------------------
# Fast-iTPN-T. sunsmarterjie/iTPN, fast_itpn/modeling_finetune.py: Fast_iTPN
# (fast_itpn_tiny_1112_patch16_224: convmlp, naiveswiglu, subln; depths 1, 1, 12; 384-d),
# ConvPatchEmbed (proj; no norm without patch_norm), ConvMlpBlock + ConvMlp (fc1, ffn_ln, fc2 as
# 1x1 convs; built with naiveswiglu=False), ConvPatchMerge (norm, conv reduction), Block +
# Attention (subln: q/k/v_proj without bias, q_bias, v_bias) + SwiGLU (w1, w2, ffn_ln, w3),
# gamma_1 / gamma_2 (init_values 0.1); use_mean_pooling (run_class_finetuning.py default) ->
# fc_norm, no norm.
# ------------------------------------------------------------------------------------------------
FAST_ITPN_STEM = ['patch_embed.proj.weight', 'patch_embed.proj.bias', 'pos_embed']
FAST_ITPN_BLOCKS = [
    'blocks.0.norm2.weight', 'blocks.0.norm2.bias',
    'blocks.0.mlp.fc1.weight', 'blocks.0.mlp.fc1.bias',
    'blocks.0.mlp.ffn_ln.weight', 'blocks.0.mlp.ffn_ln.bias',
    'blocks.0.mlp.fc2.weight', 'blocks.0.mlp.fc2.bias',
    'blocks.1.norm.weight', 'blocks.1.norm.bias',
    'blocks.1.reduction.weight', 'blocks.1.reduction.bias',
    'blocks.2.norm2.weight', 'blocks.2.norm2.bias',
    'blocks.2.mlp.fc1.weight', 'blocks.2.mlp.fc1.bias',
    'blocks.2.mlp.ffn_ln.weight', 'blocks.2.mlp.ffn_ln.bias',
    'blocks.2.mlp.fc2.weight', 'blocks.2.mlp.fc2.bias',
    'blocks.3.norm.weight', 'blocks.3.norm.bias',
    'blocks.3.reduction.weight', 'blocks.3.reduction.bias',
    'blocks.4.norm1.weight', 'blocks.4.norm1.bias',
    'blocks.4.attn.q_proj.weight', 'blocks.4.attn.k_proj.weight', 'blocks.4.attn.v_proj.weight',
    'blocks.4.attn.q_bias', 'blocks.4.attn.v_bias',
    'blocks.4.attn.proj.weight', 'blocks.4.attn.proj.bias',
    'blocks.4.norm2.weight', 'blocks.4.norm2.bias',
    'blocks.4.mlp.w1.weight', 'blocks.4.mlp.w1.bias',
    'blocks.4.mlp.w2.weight', 'blocks.4.mlp.w2.bias',
    'blocks.4.mlp.ffn_ln.weight', 'blocks.4.mlp.ffn_ln.bias',
    'blocks.4.mlp.w3.weight', 'blocks.4.mlp.w3.bias',
    'blocks.4.gamma_1', 'blocks.4.gamma_2',
]
FAST_ITPN_T_DEPTH = 12  # attention blocks 4-15
FAST_ITPN_HEAD = ['fc_norm.weight', 'fc_norm.bias', 'head.weight', 'head.bias']

# ------------------------------------------------------------------------------------------------
# Downstream necks and heads (mmdet 2.x / mmseg 0.x / mmpose 0.x as vendored in the official
# repositories).
# Mask R-CNN: ViTAE-Transformer/ViTAE-Transformer, Object-Detection/configs/_base_/models/
# mask_rcnn_vitaev2_fpn.py (FPN 4 inputs -> 256, num_outs 5 by max-pool; RPNHead;
# StandardRoIHead with Shared2FCBBoxHead and FCNMaskHead, 4 convs) and the vendored
# Object-Detection/mmdet/models/: necks/fpn.py (FPN: lateral_convs / fpn_convs of ConvModule
# 'conv'), dense_heads/rpn_head.py (RPNHead: rpn_conv, rpn_cls, rpn_reg),
# roi_heads/bbox_heads/convfc_bbox_head.py (shared_convs / shared_fcs, fc_cls, fc_reg),
# roi_heads/mask_heads/fcn_mask_head.py (convs, upsample, conv_logits). Dual-ViT's
# object_detection/configs/dualvit/_base_/models/mask_rcnn_r50_fpn.py builds the same heads.
# ------------------------------------------------------------------------------------------------
MMDET2_FPN = [
    'neck.lateral_convs.0.conv.weight', 'neck.lateral_convs.0.conv.bias',
    'neck.lateral_convs.1.conv.weight', 'neck.lateral_convs.1.conv.bias',
    'neck.lateral_convs.2.conv.weight', 'neck.lateral_convs.2.conv.bias',
    'neck.lateral_convs.3.conv.weight', 'neck.lateral_convs.3.conv.bias',
    'neck.fpn_convs.0.conv.weight', 'neck.fpn_convs.0.conv.bias',
    'neck.fpn_convs.1.conv.weight', 'neck.fpn_convs.1.conv.bias',
    'neck.fpn_convs.2.conv.weight', 'neck.fpn_convs.2.conv.bias',
    'neck.fpn_convs.3.conv.weight', 'neck.fpn_convs.3.conv.bias',
]
MMDET2_RPN = ['rpn_head.rpn_conv.weight', 'rpn_head.rpn_conv.bias', 'rpn_head.rpn_cls.weight',
              'rpn_head.rpn_cls.bias', 'rpn_head.rpn_reg.weight', 'rpn_head.rpn_reg.bias']
MMDET2_MASK_RCNN_ROI = [
    'roi_head.bbox_head.fc_cls.weight', 'roi_head.bbox_head.fc_cls.bias',
    'roi_head.bbox_head.fc_reg.weight', 'roi_head.bbox_head.fc_reg.bias',
    'roi_head.bbox_head.shared_fcs.0.weight', 'roi_head.bbox_head.shared_fcs.0.bias',
    'roi_head.bbox_head.shared_fcs.1.weight', 'roi_head.bbox_head.shared_fcs.1.bias',
    'roi_head.mask_head.convs.0.conv.weight', 'roi_head.mask_head.convs.0.conv.bias',
    'roi_head.mask_head.convs.1.conv.weight', 'roi_head.mask_head.convs.1.conv.bias',
    'roi_head.mask_head.convs.2.conv.weight', 'roi_head.mask_head.convs.2.conv.bias',
    'roi_head.mask_head.convs.3.conv.weight', 'roi_head.mask_head.convs.3.conv.bias',
    'roi_head.mask_head.upsample.weight', 'roi_head.mask_head.upsample.bias',
    'roi_head.mask_head.conv_logits.weight', 'roi_head.mask_head.conv_logits.bias',
]
# Cascade Mask R-CNN: Object-Detection/configs/vitaev2/
# cascade_mask_rcnn_vitaev2_s_mstrain_480-800_giou_4conv1f_adamw_3x_coco.py over
# configs/_base_/models/cascade_mask_rcnn_vitaev2_fpn.py: CascadeRoIHead (roi_heads/
# cascade_roi_head.py: bbox_head and mask_head are ModuleLists of 3 stages), ConvFCBBoxHead with 4
# shared convs (ConvModule with SyncBN -> 'conv' without bias, 'bn') and 1 shared fc. Stage 0:
MMDET2_CASCADE_4CONV1FC_STAGE0 = [
    'roi_head.bbox_head.0.fc_cls.weight', 'roi_head.bbox_head.0.fc_cls.bias',
    'roi_head.bbox_head.0.fc_reg.weight', 'roi_head.bbox_head.0.fc_reg.bias',
    'roi_head.bbox_head.0.shared_convs.0.conv.weight',
    'roi_head.bbox_head.0.shared_convs.0.bn.weight', 'roi_head.bbox_head.0.shared_convs.0.bn.bias',
    'roi_head.bbox_head.0.shared_convs.0.bn.running_mean',
    'roi_head.bbox_head.0.shared_convs.0.bn.running_var',
    'roi_head.bbox_head.0.shared_convs.0.bn.num_batches_tracked',
    'roi_head.bbox_head.0.shared_convs.1.conv.weight',
    'roi_head.bbox_head.0.shared_convs.1.bn.weight', 'roi_head.bbox_head.0.shared_convs.1.bn.bias',
    'roi_head.bbox_head.0.shared_convs.1.bn.running_mean',
    'roi_head.bbox_head.0.shared_convs.1.bn.running_var',
    'roi_head.bbox_head.0.shared_convs.1.bn.num_batches_tracked',
    'roi_head.bbox_head.0.shared_convs.2.conv.weight',
    'roi_head.bbox_head.0.shared_convs.2.bn.weight', 'roi_head.bbox_head.0.shared_convs.2.bn.bias',
    'roi_head.bbox_head.0.shared_convs.2.bn.running_mean',
    'roi_head.bbox_head.0.shared_convs.2.bn.running_var',
    'roi_head.bbox_head.0.shared_convs.2.bn.num_batches_tracked',
    'roi_head.bbox_head.0.shared_convs.3.conv.weight',
    'roi_head.bbox_head.0.shared_convs.3.bn.weight', 'roi_head.bbox_head.0.shared_convs.3.bn.bias',
    'roi_head.bbox_head.0.shared_convs.3.bn.running_mean',
    'roi_head.bbox_head.0.shared_convs.3.bn.running_var',
    'roi_head.bbox_head.0.shared_convs.3.bn.num_batches_tracked',
    'roi_head.bbox_head.0.shared_fcs.0.weight', 'roi_head.bbox_head.0.shared_fcs.0.bias',
    'roi_head.mask_head.0.convs.0.conv.weight', 'roi_head.mask_head.0.convs.0.conv.bias',
    'roi_head.mask_head.0.convs.1.conv.weight', 'roi_head.mask_head.0.convs.1.conv.bias',
    'roi_head.mask_head.0.convs.2.conv.weight', 'roi_head.mask_head.0.convs.2.conv.bias',
    'roi_head.mask_head.0.convs.3.conv.weight', 'roi_head.mask_head.0.convs.3.conv.bias',
    'roi_head.mask_head.0.upsample.weight', 'roi_head.mask_head.0.upsample.bias',
    'roi_head.mask_head.0.conv_logits.weight', 'roi_head.mask_head.0.conv_logits.bias',
]
CASCADE_STAGES = 3
# iTPN Mask R-CNN (sunsmarterjie/iTPN, det/configs/itpn/pixel_itpn_base_1x_ld090_dp005.py and
# clip_itpn_base_3x_ld090_dp030.py: neck None, RPNHead, StandardRoIHead with ConvFCBBoxHead 4 convs
# (SyncBN) + 1 fc and FCNMaskHead; vendored det/mmdet/models/...):
MMDET2_ROI_4CONV1FC = [
    'roi_head.bbox_head.fc_cls.weight', 'roi_head.bbox_head.fc_cls.bias',
    'roi_head.bbox_head.fc_reg.weight', 'roi_head.bbox_head.fc_reg.bias',
    'roi_head.bbox_head.shared_convs.0.conv.weight',
    'roi_head.bbox_head.shared_convs.0.bn.weight', 'roi_head.bbox_head.shared_convs.0.bn.bias',
    'roi_head.bbox_head.shared_convs.0.bn.running_mean',
    'roi_head.bbox_head.shared_convs.0.bn.running_var',
    'roi_head.bbox_head.shared_convs.0.bn.num_batches_tracked',
    'roi_head.bbox_head.shared_convs.1.conv.weight',
    'roi_head.bbox_head.shared_convs.1.bn.weight', 'roi_head.bbox_head.shared_convs.1.bn.bias',
    'roi_head.bbox_head.shared_convs.1.bn.running_mean',
    'roi_head.bbox_head.shared_convs.1.bn.running_var',
    'roi_head.bbox_head.shared_convs.1.bn.num_batches_tracked',
    'roi_head.bbox_head.shared_convs.2.conv.weight',
    'roi_head.bbox_head.shared_convs.2.bn.weight', 'roi_head.bbox_head.shared_convs.2.bn.bias',
    'roi_head.bbox_head.shared_convs.2.bn.running_mean',
    'roi_head.bbox_head.shared_convs.2.bn.running_var',
    'roi_head.bbox_head.shared_convs.2.bn.num_batches_tracked',
    'roi_head.bbox_head.shared_convs.3.conv.weight',
    'roi_head.bbox_head.shared_convs.3.bn.weight', 'roi_head.bbox_head.shared_convs.3.bn.bias',
    'roi_head.bbox_head.shared_convs.3.bn.running_mean',
    'roi_head.bbox_head.shared_convs.3.bn.running_var',
    'roi_head.bbox_head.shared_convs.3.bn.num_batches_tracked',
    'roi_head.bbox_head.shared_fcs.0.weight', 'roi_head.bbox_head.shared_fcs.0.bias',
    'roi_head.mask_head.convs.0.conv.weight', 'roi_head.mask_head.convs.0.conv.bias',
    'roi_head.mask_head.convs.1.conv.weight', 'roi_head.mask_head.convs.1.conv.bias',
    'roi_head.mask_head.convs.2.conv.weight', 'roi_head.mask_head.convs.2.conv.bias',
    'roi_head.mask_head.convs.3.conv.weight', 'roi_head.mask_head.convs.3.conv.bias',
    'roi_head.mask_head.upsample.weight', 'roi_head.mask_head.upsample.bias',
    'roi_head.mask_head.conv_logits.weight', 'roi_head.mask_head.conv_logits.bias',
]
# UperNet: ViTAE-Transformer/ViTAE-Transformer, Semantic-Segmentation/configs/_base_/models/
# upernet_vitaev2.py (UPerHead pool scales 1, 2, 3, 6 + FCNHead with one conv, SyncBN) and the
# vendored Semantic-Segmentation/mmseg/models/decode_heads/: uper_head.py (psp_modules = PPM,
# bottleneck, lateral_convs, fpn_convs, fpn_bottleneck), psp_head.py (PPM: Sequential(pool,
# ConvModule)), fcn_head.py (convs), decode_head.py (conv_seg). The same heads in
# YehLi/ImageNetModel semantic_segmentation/configs/_base_/models/upernet_dualvit.py and
# sunsmarterjie/iTPN seg/configs/_base_/models/upernet_beit.py.
MMSEG0_UPERNET = [
    'decode_head.conv_seg.weight', 'decode_head.conv_seg.bias',
    'decode_head.psp_modules.0.1.conv.weight',
    'decode_head.psp_modules.0.1.bn.weight', 'decode_head.psp_modules.0.1.bn.bias',
    'decode_head.psp_modules.0.1.bn.running_mean', 'decode_head.psp_modules.0.1.bn.running_var',
    'decode_head.psp_modules.0.1.bn.num_batches_tracked',
    'decode_head.psp_modules.1.1.conv.weight',
    'decode_head.psp_modules.1.1.bn.weight', 'decode_head.psp_modules.1.1.bn.bias',
    'decode_head.psp_modules.1.1.bn.running_mean', 'decode_head.psp_modules.1.1.bn.running_var',
    'decode_head.psp_modules.1.1.bn.num_batches_tracked',
    'decode_head.psp_modules.2.1.conv.weight',
    'decode_head.psp_modules.2.1.bn.weight', 'decode_head.psp_modules.2.1.bn.bias',
    'decode_head.psp_modules.2.1.bn.running_mean', 'decode_head.psp_modules.2.1.bn.running_var',
    'decode_head.psp_modules.2.1.bn.num_batches_tracked',
    'decode_head.psp_modules.3.1.conv.weight',
    'decode_head.psp_modules.3.1.bn.weight', 'decode_head.psp_modules.3.1.bn.bias',
    'decode_head.psp_modules.3.1.bn.running_mean', 'decode_head.psp_modules.3.1.bn.running_var',
    'decode_head.psp_modules.3.1.bn.num_batches_tracked',
    'decode_head.bottleneck.conv.weight',
    'decode_head.bottleneck.bn.weight', 'decode_head.bottleneck.bn.bias',
    'decode_head.bottleneck.bn.running_mean', 'decode_head.bottleneck.bn.running_var',
    'decode_head.bottleneck.bn.num_batches_tracked',
    'decode_head.lateral_convs.0.conv.weight',
    'decode_head.lateral_convs.0.bn.weight', 'decode_head.lateral_convs.0.bn.bias',
    'decode_head.lateral_convs.0.bn.running_mean', 'decode_head.lateral_convs.0.bn.running_var',
    'decode_head.lateral_convs.0.bn.num_batches_tracked',
    'decode_head.lateral_convs.1.conv.weight',
    'decode_head.lateral_convs.1.bn.weight', 'decode_head.lateral_convs.1.bn.bias',
    'decode_head.lateral_convs.1.bn.running_mean', 'decode_head.lateral_convs.1.bn.running_var',
    'decode_head.lateral_convs.1.bn.num_batches_tracked',
    'decode_head.lateral_convs.2.conv.weight',
    'decode_head.lateral_convs.2.bn.weight', 'decode_head.lateral_convs.2.bn.bias',
    'decode_head.lateral_convs.2.bn.running_mean', 'decode_head.lateral_convs.2.bn.running_var',
    'decode_head.lateral_convs.2.bn.num_batches_tracked',
    'decode_head.fpn_convs.0.conv.weight',
    'decode_head.fpn_convs.0.bn.weight', 'decode_head.fpn_convs.0.bn.bias',
    'decode_head.fpn_convs.0.bn.running_mean', 'decode_head.fpn_convs.0.bn.running_var',
    'decode_head.fpn_convs.0.bn.num_batches_tracked',
    'decode_head.fpn_convs.1.conv.weight',
    'decode_head.fpn_convs.1.bn.weight', 'decode_head.fpn_convs.1.bn.bias',
    'decode_head.fpn_convs.1.bn.running_mean', 'decode_head.fpn_convs.1.bn.running_var',
    'decode_head.fpn_convs.1.bn.num_batches_tracked',
    'decode_head.fpn_convs.2.conv.weight',
    'decode_head.fpn_convs.2.bn.weight', 'decode_head.fpn_convs.2.bn.bias',
    'decode_head.fpn_convs.2.bn.running_mean', 'decode_head.fpn_convs.2.bn.running_var',
    'decode_head.fpn_convs.2.bn.num_batches_tracked',
    'decode_head.fpn_bottleneck.conv.weight',
    'decode_head.fpn_bottleneck.bn.weight', 'decode_head.fpn_bottleneck.bn.bias',
    'decode_head.fpn_bottleneck.bn.running_mean', 'decode_head.fpn_bottleneck.bn.running_var',
    'decode_head.fpn_bottleneck.bn.num_batches_tracked',
    'auxiliary_head.conv_seg.weight', 'auxiliary_head.conv_seg.bias',
    'auxiliary_head.convs.0.conv.weight',
    'auxiliary_head.convs.0.bn.weight', 'auxiliary_head.convs.0.bn.bias',
    'auxiliary_head.convs.0.bn.running_mean', 'auxiliary_head.convs.0.bn.running_var',
    'auxiliary_head.convs.0.bn.num_batches_tracked',
]
# AP-10K SimpleBaseline: ViTAE-Transformer/ViTAE-Transformer, Animal-Pose-Estimation/configs/
# animal/2d_kpt_sview_rgb_img/topdown_heatmap/ap10k/vitae_ap10k_256x256.py (TopDown with
# TopdownHeatmapSimpleHead, defaults: 3 deconvs of 256 without bias + BN + ReLU, final 1x1 conv)
# and Animal-Pose-Estimation/mmpose/models/heads/topdown_heatmap_simple_head.py,
# mmpose/models/detectors/top_down.py (the head attribute is keypoint_head).
MMPOSE0_TOPDOWN_HEAD = [
    'keypoint_head.deconv_layers.0.weight',
    'keypoint_head.deconv_layers.1.weight', 'keypoint_head.deconv_layers.1.bias',
    'keypoint_head.deconv_layers.1.running_mean', 'keypoint_head.deconv_layers.1.running_var',
    'keypoint_head.deconv_layers.1.num_batches_tracked',
    'keypoint_head.deconv_layers.3.weight',
    'keypoint_head.deconv_layers.4.weight', 'keypoint_head.deconv_layers.4.bias',
    'keypoint_head.deconv_layers.4.running_mean', 'keypoint_head.deconv_layers.4.running_var',
    'keypoint_head.deconv_layers.4.num_batches_tracked',
    'keypoint_head.deconv_layers.6.weight',
    'keypoint_head.deconv_layers.7.weight', 'keypoint_head.deconv_layers.7.bias',
    'keypoint_head.deconv_layers.7.running_mean', 'keypoint_head.deconv_layers.7.running_var',
    'keypoint_head.deconv_layers.7.num_batches_tracked',
    'keypoint_head.final_layer.weight', 'keypoint_head.final_layer.bias',
]
# A detrex DINO (IDEA-Research/detrex, projects/dino/modeling/dino.py, class DINO: attributes
# backbone, neck, transformer, class_embed / bbox_embed ModuleLists of the decoder layers,
# label_enc), with a ViTDet-style backbone under backbone.net: a layout HVT refuses.
DETREX_DINO_SAMPLE = ['backbone.net.patch_embed.proj.weight', 'class_embed.0.weight',
                      'class_embed.0.bias', 'bbox_embed.0.layers.0.weight', 'label_enc.weight']

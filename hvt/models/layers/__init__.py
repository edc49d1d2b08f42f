"""Blocks shared by every HVT family. Write a block here once; backbones import it."""
from .attention import Attention, attention
from .conv_embed import (ConvDownsample, ConvEmbedding, ConvStem, FusedMBConv, MBConv, PatchEmbed,
                         PatchMerging, build_embeddings)
from .drop import DropPath, drop_path, drop_path_rates
from .fast_itpn_blocks import (ConvMlp, ConvMlpBlock, ConvPatchEmbed, ConvPatchMerge,
                               FastiTPNBlock, SeparateQKVAttention, SwiGLU)
from .dualvit_blocks import (ClassBlock, DualAttention, DualBlock, DWConvMlp, MergeBlock, MergeFFN,
                             QKVAttention)
from .hivit_blocks import (HiViTAttention, HiViTBlock, HiViTPatchEmbed, MlpBlock, PatchMerge,
                           PatchSplit)
from .itpn_pyramid import iTPNPyramid
from .mlp import Mlp
from .vitae_cells import (PCM, PRM, NormalCell, PatchEmbedCell, RCWindowBlock, ReductionCell,
                          TokenAttention, TokenPerformer, TokenTransformer, ViTAEBasicLayer,
                          WindowAttention, window_attention)
from .weight_init import init_vit_weights, set_batchnorm_eval
from .window import (RelativePositionBias, decomposed_rel_pos_bias, pad_to_multiple,
                     relative_position_index, resize_rel_pos, window_partition, window_reverse)

__all__ = [
    'init_vit_weights', 'set_batchnorm_eval',
    'ConvMlp', 'ConvMlpBlock', 'ConvPatchEmbed', 'ConvPatchMerge', 'FastiTPNBlock',
    'SeparateQKVAttention', 'SwiGLU',
    'PCM', 'PRM', 'NormalCell', 'PatchEmbedCell', 'RCWindowBlock', 'ReductionCell',
    'TokenAttention', 'TokenPerformer', 'TokenTransformer', 'ViTAEBasicLayer', 'WindowAttention',
    'window_attention',
    'ClassBlock', 'DualAttention', 'DualBlock', 'DWConvMlp', 'MergeBlock', 'MergeFFN', 'QKVAttention',
    'ConvDownsample', 'ConvEmbedding', 'ConvStem', 'FusedMBConv', 'MBConv', 'PatchEmbed',
    'PatchMerging', 'build_embeddings',
    'Attention', 'attention', 'DropPath', 'drop_path', 'drop_path_rates', 'Mlp',
    'RelativePositionBias', 'decomposed_rel_pos_bias', 'resize_rel_pos', 'pad_to_multiple',
    'relative_position_index', 'window_partition',
    'window_reverse', 'HiViTAttention', 'HiViTBlock', 'HiViTPatchEmbed', 'MlpBlock', 'PatchMerge',
    'PatchSplit', 'iTPNPyramid'
]

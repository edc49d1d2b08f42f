"""Blocks shared by every HVT family. Write a block here once; backbones import it."""
from .attention import Attention, attention
from .drop import DropPath, drop_path, drop_path_rates
from .hivit_blocks import HiViTAttention, HiViTBlock, MlpBlock, PatchMerge, PatchSplit
from .mlp import Mlp
from .window import (RelativePositionBias, pad_to_multiple, relative_position_index,
                     window_partition, window_reverse)

__all__ = [
    'Attention', 'attention', 'DropPath', 'drop_path', 'drop_path_rates', 'Mlp',
    'RelativePositionBias', 'pad_to_multiple', 'relative_position_index', 'window_partition',
    'window_reverse', 'HiViTAttention', 'HiViTBlock', 'MlpBlock', 'PatchMerge', 'PatchSplit'
]

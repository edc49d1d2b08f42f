"""Feed-forward networks shared by the families."""
from torch import nn

from hvt.registry import MODELS
from .chunk import chunked_tokens


@MODELS.register_module()
class Mlp(nn.Module):
    """``fc1 -> act -> drop -> fc2 -> drop`` on channel-last tokens (timm key names ``fc1``/``fc2``).

    On the CPU, many tokens are processed in cache-sized pieces
    (:func:`~hvt.models.layers.chunk.chunked`).
    """

    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU,
                 drop=0., bias=True):
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features, bias=bias)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features, bias=bias)
        self.drop = nn.Dropout(drop)

    def _ffn(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))

    def forward(self, x):
        return chunked_tokens(self._ffn, x, self.fc1.out_features)

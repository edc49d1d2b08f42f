"""The shared layers: one attention core with equal fused and reference paths, drop path, windows."""
import pytest
import torch

from hvt.models.layers import (Attention, DropPath, RelativePositionBias, attention, drop_path_rates,
                               pad_to_multiple, window_partition, window_reverse)


@pytest.mark.parametrize('with_bias', [False, True])
def test_fused_attention_equals_reference(with_bias):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 10, 8, dtype=torch.float64) for _ in range(3))
    bias = torch.randn(3, 10, 10, dtype=torch.float64) if with_bias else None
    fused = attention(q, k, v, bias, fused=True)
    ref = attention(q, k, v, bias, fused=False)
    torch.testing.assert_close(fused, ref, rtol=1e-10, atol=1e-10)
    # and the reference really is softmax(q k^T / sqrt(d) + b) v
    logits = q @ k.transpose(-2, -1) / 8 ** 0.5 + (0 if bias is None else bias)
    torch.testing.assert_close(ref, logits.softmax(-1) @ v)


def test_attention_module_scale_and_shapes():
    m = Attention(dim=16, num_heads=4, qkv_bias=True).eval()
    x = torch.randn(2, 7, 16)
    assert m(x).shape == (2, 7, 16)
    assert m.qkv.weight.shape == (48, 16) and m.qkv.bias is not None
    assert m.scale == pytest.approx(4 ** -0.5)
    # the module is permutation-equivariant over tokens (no positional information inside)
    perm = torch.randperm(7)
    torch.testing.assert_close(m(x)[:, perm], m(x[:, perm]), rtol=1e-5, atol=1e-5)


def test_drop_path_train_and_eval():
    torch.manual_seed(0)
    dp = DropPath(0.5)
    x = torch.ones(1000, 4)
    assert torch.equal(dp.eval()(x), x)
    y = dp.train()(x)
    kept = y[:, 0] != 0
    assert 0.35 < kept.float().mean() < 0.65
    assert torch.allclose(y[kept], torch.full_like(y[kept], 2.0))  # survivors rescaled by 1/keep
    assert (y[~kept] == 0).all()


def test_drop_path_rates_are_linear_and_split_per_stage():
    rates = drop_path_rates(0.3, [1, 2, 1])
    assert [len(r) for r in rates] == [1, 2, 1]
    flat = sum(rates, [])
    assert flat[0] == 0 and flat[-1] == pytest.approx(0.3)
    assert all(b > a for a, b in zip(flat, flat[1:]))


def test_window_partition_roundtrip_and_padding():
    x = torch.randn(2, 10, 13, 3)
    padded, (ph, pw) = pad_to_multiple(x, 7)
    assert padded.shape == (2, 14, 14, 3) and (ph, pw) == (4, 1)
    windows = window_partition(padded, 7)
    assert windows.shape == (2 * 4, 49, 3)
    # window 1 of image 0 is the top-right 7x7 block
    torch.testing.assert_close(windows[1].view(7, 7, 3), padded[0, :7, 7:14])
    torch.testing.assert_close(window_reverse(windows, 7, 14, 14), padded)


def test_relative_position_bias_is_translation_invariant():
    rpb = RelativePositionBias(3, num_heads=2)
    bias = rpb()
    assert bias.shape == (2, 9, 9)
    assert rpb.relative_position_bias_table.shape == (25, 2)
    # token pairs with the same offset share one bias: (0,0)->(0,1) equals (1,1)->(1,2)
    assert torch.equal(bias[:, 0, 1], bias[:, 4, 5])
    assert not torch.equal(bias[:, 0, 1], bias[:, 0, 3])


@pytest.fixture
def small_chunks(monkeypatch):
    """Pieces of 4 KiB, so that tiny inputs take the split path."""
    from hvt.models.layers import chunk
    monkeypatch.setattr(chunk, 'CHUNK_BYTES', 4096)
    return chunk


def _fwd_bwd(m, x, *args):
    x = x.clone().requires_grad_()
    y = m(x, *args)
    y.backward(torch.arange(y.numel(), dtype=y.dtype).reshape(y.shape).sin())
    return y.detach(), x.grad, [p.grad.clone() for p in m.parameters()]


def _compare_split_with_plain(chunk, m, x, *args):
    m.zero_grad()
    split = _fwd_bwd(m, x, *args)
    m.zero_grad()
    budget, chunk.CHUNK_BYTES = chunk.CHUNK_BYTES, 0  # the plain one-piece path
    plain = _fwd_bwd(m, x, *args)
    chunk.CHUNK_BYTES = budget
    torch.testing.assert_close(split[0], plain[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(split[1], plain[1], rtol=1e-5, atol=1e-6)
    for a, b in zip(split[2], plain[2]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_chunked_splits_only_large_inputs(small_chunks):
    calls = []

    def fn(t):
        calls.append(t.shape[0])
        return t * 2

    x = torch.randn(40, 64)  # 40 rows x 256 B = 10 KiB > 2 x 4 KiB: pieces of 16 rows
    torch.testing.assert_close(small_chunks.chunked(fn, x, 256), x * 2)
    assert calls == [16, 16, 8]
    calls.clear()
    small_chunks.chunked(fn, x[:32], 256)  # 8 KiB: not more than twice the budget, one piece
    assert calls == [32]
    calls.clear()
    small_chunks.chunked(fn, x, 256, min_items=20)
    assert calls == [20, 20]


def test_chunked_mlps_equal_the_plain_path(small_chunks):
    """Mlp (per token), Dual-ViT's DWConvMlp (per image, >= 2 images) and Fast-iTPN's ConvMlp
    give the one-piece outputs and gradients when split."""
    from hvt.models.layers import ConvMlp, DWConvMlp, Mlp
    torch.manual_seed(0)
    _compare_split_with_plain(small_chunks, Mlp(8, 32), torch.randn(2, 50, 8))
    _compare_split_with_plain(small_chunks, DWConvMlp(8, 16), torch.randn(5, 36, 8), (6, 6))
    _compare_split_with_plain(small_chunks, ConvMlp(8, 48), torch.randn(2, 6, 6, 8))  # 72 x 192 B


def test_pcm_silu_is_in_place_only_without_autograd():
    """The PCM's SiLU writes a new tensor under autograd (an in-place one makes autograd copy its
    input) and works in place at inference; both equal nn.SiLU."""
    from hvt.models.layers.vitae_cells import _SiLU
    act = _SiLU()
    x = torch.randn(2, 3, 4, 4)
    ref = torch.nn.functional.silu(x)
    xg = x.clone().requires_grad_()
    h = xg * 1
    y = act(h)
    assert y.data_ptr() != h.data_ptr()  # a new output under autograd
    torch.testing.assert_close(y, ref)
    y.sum().backward()
    sig = torch.sigmoid(x)
    torch.testing.assert_close(xg.grad, sig * (1 + x * (1 - sig)))
    with torch.no_grad():
        z = x.clone()
        out = act(z)
    assert out.data_ptr() == z.data_ptr()  # in place
    torch.testing.assert_close(out, ref)


def test_chunked_window_attention_equals_the_plain_path(small_chunks):
    """ViTAEv2's window attention runs on groups of images; outputs and gradients are the
    one-piece ones (also with centred padding: a 10x9 map, window 4)."""
    from hvt.models.layers import WindowAttention, window_attention

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = WindowAttention(8, 16, num_heads=2, window_size=4)

        def forward(self, x, hw):
            return window_attention(self.attn, x, hw, 4)

    torch.manual_seed(0)
    _compare_split_with_plain(small_chunks, Wrap(), torch.randn(5, 90, 8), (10, 9))

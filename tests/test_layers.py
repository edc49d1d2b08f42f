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

"""Bad input gets a clear error that names the offending key, file or value."""
import pytest
import torch

from hvt.engine.checkpoint_io import (check_checkpoint_file, load_checkpoint_file,
                                      save_checkpoint_file)
from toolkit import cls_smoke_options, run_tool

CONFIG = 'configs/demo/vitaev2-demo_shapes.py'


def test_truncated_checkpoint_is_named_corrupt(tmp_path):
    good = tmp_path / 'good.pth'
    save_checkpoint_file({'state_dict': {'w': torch.ones(1000)}}, str(good))
    check_checkpoint_file(str(good))
    assert torch.equal(load_checkpoint_file(str(good))['state_dict']['w'], torch.ones(1000))
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(good.read_bytes()[:-200])  # a save that was cut short
    with pytest.raises(ValueError, match=r"bad\.pth.*corrupt or incomplete"):
        check_checkpoint_file(str(bad))
    junk = tmp_path / 'junk.pth'
    junk.write_text('<html>404 not found</html>')
    with pytest.raises(ValueError, match=r"junk\.pth.*corrupt or incomplete"):
        load_checkpoint_file(str(junk))


def test_legacy_pickle_needs_trust(tmp_path):
    import argparse
    path = tmp_path / 'official.pth'
    torch.save({'model': {'w': torch.zeros(2)}, 'args': argparse.Namespace(lr=1)}, str(path))
    with pytest.raises(RuntimeError, match=r'official\.pth.*--trust-pickle'):
        load_checkpoint_file(str(path))
    with pytest.warns(UserWarning, match='full unpickling'):
        ckpt = load_checkpoint_file(str(path), trust_pickle=True)
    assert ckpt['args'].lr == 1


def test_resume_from_truncated_checkpoint_fails_clearly(tmp_path):
    bad = tmp_path / 'epoch_3.pth'
    bad.write_bytes(b'PK\x03\x04 truncated')
    out = run_tool('train.py', CONFIG, '--resume', bad, check=False)
    assert 'epoch_3.pth' in out and 'corrupt or incomplete' in out


def test_missing_dataset_root_names_key_and_path(tmp_path):
    out = run_tool('train.py', CONFIG, '--cfg-options',
                   f'train_dataloader.dataset.data_root={tmp_path}/no_such_data', check=False)
    assert 'train_dataloader.dataset.data_root' in out and 'no_such_data' in out
    assert 'does not exist' in out


def test_missing_annotation_file_names_path(tiny_data, tmp_path):
    opts = cls_smoke_options(tiny_data, tmp_path / 'w', img_size=32, config=CONFIG)
    out = run_tool('train.py', CONFIG, '--cfg-options', *opts,
                   'train_dataloader.dataset.ann_file=meta/missing.txt', check=False)
    assert 'meta/missing.txt' in out and 'annotation file' in out


def test_nan_loss_stops_with_iteration_and_terms(tiny_data, tmp_path):
    opts = cls_smoke_options(tiny_data, tmp_path / 'w', img_size=32, config=CONFIG)
    # an absurd learning rate blows the weights up within a few iterations
    out = run_tool('train.py', CONFIG, '--cfg-options', *opts, 'optim_wrapper.optimizer.lr=1e30',
                   check=False)
    assert 'FloatingPointError' in out
    assert 'non-finite loss at iteration' in out and 'loss=' in out

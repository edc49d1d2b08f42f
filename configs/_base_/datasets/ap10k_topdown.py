# (Not named ap10k.py: mmpose reads its keypoint metainfo from "configs/_base_/datasets/ap10k.py"
# relative to the working directory, so that name must stay free in an OpenMMLab project.)
# AP-10K animal pose (17 keypoints), top-down on ground-truth boxes, 256x256 input, 64x64 heatmaps.
# Layout: data/ap10k/data/*.jpg, data/ap10k/annotations/ap10k-{train,val,test}-split1.json
dataset_type = 'AP10KDataset'
data_mode = 'topdown'
data_root = 'data/ap10k/'
codec = dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/ap10k-train-split1.json', data_prefix=dict(img='data/'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/ap10k-val-split1.json', data_prefix=dict(img='data/'),
                 test_mode=True, pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/ap10k-test-split1.json', data_prefix=dict(img='data/'),
                 test_mode=True, pipeline=val_pipeline))
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/ap10k-val-split1.json')
test_evaluator = dict(type='CocoMetric',
                      ann_file=data_root + 'annotations/ap10k-test-split1.json')

# Runtime shared by every HVT config. Leaf configs of other tasks override `default_scope`
# (mmdet / mmseg / mmpose); `custom_imports` makes `type='hvt.<Name>'` resolvable from any scope.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['hvt.models', 'hvt.engine'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # HVT's checkpoint hook: same options as mmengine's CheckpointHook, but every file is written
    # to a temporary file, fsynced and atomically renamed, and `last_checkpoint` moves only after.
    checkpoint=dict(type='hvt.SafeCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # saves/restores the Python, numpy and torch RNG states so --resume continues exactly
    rng_state=dict(type='hvt.RNGStateHook'),
    # stops on a NaN/Inf loss, naming the iteration and every loss term
    check_invalid_loss=dict(type='hvt.CheckInvalidLossHook', interval=1),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)

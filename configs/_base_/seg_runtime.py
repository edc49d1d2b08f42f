# Runtime for semantic segmentation (mmseg): iteration-based, checkpoints every 16k iterations.
_base_ = ['./default_runtime.py']
default_scope = 'mmseg'
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=16000),
    visualization=dict(_delete_=True, type='SegVisualizationHook'),
)
visualizer = dict(type='SegLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')],
                  name='visualizer')
log_processor = dict(by_epoch=False)

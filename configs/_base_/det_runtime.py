# Runtime for detection / instance segmentation (mmdet).
_base_ = ['./default_runtime.py']
default_scope = 'mmdet'
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    visualization=dict(_delete_=True, type='DetVisualizationHook'),
)
visualizer = dict(type='DetLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')],
                  name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

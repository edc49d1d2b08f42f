# Runtime for pose estimation (mmpose).
_base_ = ['./default_runtime.py']
default_scope = 'mmpose'
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(interval=10, save_best='coco/AP', rule='greater'),
    visualization=dict(_delete_=True, type='PoseVisualizationHook', enable=False),
    badcase=dict(type='BadCaseAnalysisHook', enable=False, out_dir='badcase',
                 metric_type='loss', badcase_thr=5),
)
# backend='matplotlib': mmpose 1.3's OpenCV backend draws keypoints with int(np.array([r])), which
# numpy >= 2 refuses, so --show-dir failed as soon as a keypoint scored above kpt_thr
visualizer = dict(type='PoseLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')],
                  name='visualizer', backend='matplotlib')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True, num_digits=6)

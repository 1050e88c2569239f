"""Simulated-click evaluation: metrics (IoU, mIoU@k, NoC@85/90), the protocol, baselines, reports."""

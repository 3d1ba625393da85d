"""Scores into decisions: the one acceptance rule (``score >= threshold``) and thresholds at a false accept rate.

Below both the gallery (``FaceGallery.identify``) and evaluation (metrics, reports), so neither imports the other
for it; imports numpy only.
"""

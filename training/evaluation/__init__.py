"""Evaluation: dataset and benchmark readers, inference backends, running and scoring, metrics, reports."""

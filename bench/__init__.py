"""Benchmarks that print figures with their conditions (bench/conditions.py); run each as a script."""

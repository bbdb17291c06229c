"""Datasets (being added)."""

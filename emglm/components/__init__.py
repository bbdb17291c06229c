"""components layer."""

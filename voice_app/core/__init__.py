"""The ground layer: errors, settings, files, safe text, model resolution, cancellation (imports nothing above)."""

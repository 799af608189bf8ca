"""``python -m stepline.local.adapter``: the registry and any entry whose moto target changed."""

from stepline.local.adapter.registry import report

print(report())

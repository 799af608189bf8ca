"""Operating Stepline: the targets commands act on, and the logic of status, backfill, rerun."""

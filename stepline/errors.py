"""Errors shared by Stepline's definition loader and its local engine."""

from __future__ import annotations


class DefinitionError(ValueError):
    """A state machine definition cannot be produced or run.

    Raised by :mod:`stepline.definition` when ``template.yaml``,
    ``samconfig.toml`` or the ASL cannot produce the deployed definition, and
    by :func:`stepline.local.run_state_machine` before running a definition
    moto's grammar refuses or whose ``Next``/``Default``/``StartAt`` names no
    state.
    """

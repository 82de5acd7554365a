"""Partnerships' escalation procedures: rule-file schema, signal reading, calendar and engine.

Everything here is pure except :mod:`tracker.rules.partnerships`, which loads the
configured rule files once at start-up.
"""

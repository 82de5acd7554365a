"""Ingest: mailbox sources, parsing and classification.

Nothing in this package imports :mod:`tracker`; it hands plain frozen value
objects (:class:`ingest.raw.RawMessage`, :class:`ingest.parse.ParsedEmail`,
:class:`ingest.classify.Classification`) to the tracker.
"""

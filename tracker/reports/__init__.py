"""Digests, quarterly trend reports and the anonymised learning export.

Business managers read these instead of a spreadsheet, and forward the
quarterly report to the partnership as it is: so what leaves this package is
built from case metadata only (references, stages, dates, categories, agency
*types*), never from message text, event details or email addresses.

The shape follows the rest of the tracker: the figures are decided by pure
functions over plain rows (:mod:`.rows`, :mod:`.digest`, :mod:`.quarterly`,
:mod:`.anonymise`), tested without a database; :mod:`.load` is the thin
database layer (a few queries, never one per case); :mod:`.charts`,
:mod:`.render`, :mod:`.mime` and :mod:`.chromium` turn figures into PNG, HTML,
mail and PDF; :mod:`.digest_job`, :mod:`.report_job` and :mod:`.export` join
them for the CLI and the daemon.
"""

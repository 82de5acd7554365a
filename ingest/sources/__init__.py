"""Mailbox sources: each yields :class:`~ingest.raw.RawMessage` and acks after commit."""

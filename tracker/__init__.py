"""Tracker: cases, threading, outbox and the daemon that joins them."""

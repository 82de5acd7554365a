"""Every message of the shared real-world corpus parses and classifies without raising."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from ingest.classify import Policy, classify
from ingest.errors import ParseError
from ingest.parse import parse

CORPUS = Path(__file__).parents[3] / "shared" / "corpus" / "realworld"
NOT_MESSAGES = {"index.tsv", "SOURCES.md", ".gitattributes"}
EXPECTED_FILES = 2237


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in NOT_MESSAGES)


def test_corpus_parses_and_classifies() -> None:
    if not CORPUS.is_dir():
        message = f"real-world corpus not found at {CORPUS}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    policy = Policy(
        trusted_authserv_ids=frozenset({"mx.google.com"}),
        protected_domains=frozenset({"example.com", "gmail.com"}),
        own_addresses=frozenset({"sscp@solihull.gov.uk"}),
    )
    verdicts: Counter[str] = Counter()
    empty = 0
    internal_failures = []
    files = corpus_files()
    for path in files:
        data = path.read_bytes()
        try:
            email = parse(data)
        except ParseError:
            # Only input that cannot be a message at all may be refused.
            assert not data.strip(), path
            empty += 1
            continue
        if any(d.startswith("parser failure") for d in email.defects):
            internal_failures.append(str(path.relative_to(CORPUS)))
        verdicts[classify(email, policy).verdict.value] += 1
    summary = ", ".join(f"{name}={count}" for name, count in sorted(verdicts.items()))
    print(f"\ncorpus: {len(files)} files, {empty} empty; {summary}")
    assert len(files) == EXPECTED_FILES
    assert internal_failures == []
    assert sum(verdicts.values()) + empty == len(files)

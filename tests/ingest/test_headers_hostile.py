"""ingest/parse/headers.py against hostile header values: right answers, in linear time.

Each input is what an attacker can put in one header of one mail. The bound
(two seconds for a megabyte or so) is generous: a quadratic reader takes
minutes on these, a linear one milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from ingest.parse import parse
from ingest.parse.headers import (
    decode_words,
    parse_addresses,
    parse_authentication_results,
    parse_message_id_list,
    parse_return_path,
)

BOUND_SECONDS = 2.0
N = 400_000


def _bounded(call: Callable[[], object]) -> None:
    start = time.perf_counter()
    call()
    assert time.perf_counter() - start < BOUND_SECONDS


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("=?a?q?x" * (N // 7), id="unclosed encoded words"),
        pytest.param("=?a?q?x?= " * (N // 10), id="many tiny encoded words"),
        pytest.param("=?utf-8?q?" + "a" * N, id="one endless encoded word"),
        pytest.param("=?" * (N // 2), id="only openers"),
    ],
)
def test_decode_words_is_linear(value: str) -> None:
    _bounded(lambda: decode_words(value))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("a@" * (N // 2), id="at signs"),
        pytest.param("x@y.z " * (N // 6) + "<a@b.c>", id="address-like words before one"),
        pytest.param("(" * N, id="open comments"),
        pytest.param('"a' * (N // 2), id="open quotes"),
        pytest.param("<" * N, id="open angles"),
        pytest.param("a, " * (N // 3), id="a long list of nothing"),
        pytest.param("a" * N + "@", id="one long local part"),
    ],
)
def test_parse_addresses_is_linear(value: str) -> None:
    _bounded(lambda: parse_addresses([value]))


def test_other_readers_are_linear() -> None:
    _bounded(lambda: parse_authentication_results("mx; " + "dmarc=pass (" * (N // 12)))
    _bounded(lambda: parse_authentication_results("mx; " + "a=b c.d=e " * (N // 10)))
    _bounded(lambda: parse_message_id_list("<" * N, allow_bare=True))
    _bounded(lambda: parse_message_id_list("a@b " * (N // 4), allow_bare=True))
    _bounded(lambda: parse_return_path("<@" + "a:" * (N // 2)))


def test_a_huge_hostile_from_header_parses_in_bounded_time() -> None:
    data = ("From: " + "sscp@solihull.gov.uk " * (N // 21) + "<attacker@evil.example>\n").encode()
    start = time.perf_counter()
    email = parse(data + b"Subject: x\n\nHello.\n")
    assert time.perf_counter() - start < BOUND_SECONDS
    assert email.from_ is not None


@pytest.mark.parametrize(
    ("value", "name", "addr"),
    [
        (
            '"sscp@solihull.gov.uk" <attacker@evil.example>',
            "sscp@solihull.gov.uk",
            "attacker@evil.example",
        ),
        (
            "sscp@solihull.gov.uk <attacker@evil.example>",
            "sscp@solihull.gov.uk",
            "attacker@evil.example",
        ),
        ("Priya Shah <P.Shah@Oakfield.sch.uk>", "Priya Shah", "p.shah@oakfield.sch.uk"),
        ("Priya Shah <p.shah@oakfield.sch.uk> (School)", "Priya Shah", "p.shah@oakfield.sch.uk"),
        ("Dr. J. Smith <j.smith@nhs.net>", "Dr. J. Smith", "j.smith@nhs.net"),
        ("=?utf-8?q?Zo=C3=AB?= <zoe@x.example>", "Zoë", "zoe@x.example"),
        ("<only@angle.example>", "", "only@angle.example"),
        ("bare@addr.example", "", "bare@addr.example"),
    ],
)
def test_the_address_is_the_one_in_angle_brackets(value: str, name: str, addr: str) -> None:
    [found] = parse_addresses([value])
    assert (found.name, found.addr) == (name, addr)


def test_in_a_list_too_each_address_is_the_one_in_angle_brackets() -> None:
    found = parse_addresses(["sscp@solihull.gov.uk <attacker@evil.example>, Jo <jo@x.org>"])
    assert [(a.name, a.addr) for a in found] == [
        ("sscp@solihull.gov.uk", "attacker@evil.example"),
        ("Jo", "jo@x.org"),
    ]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('"a, b" <c@d.e>, ' * (N // 16), id="quoted commas"),
        pytest.param("a <b@c.d>, " * (N // 11), id="many mailboxes"),
        pytest.param("\\" * N + " <a@b.c>, x", id="backslashes"),
    ],
)
def test_address_lists_are_linear(value: str) -> None:
    _bounded(lambda: parse_addresses([value]))


def test_lists_and_quoted_commas_still_split_as_before() -> None:
    found = parse_addresses(['"Smith, J" <j@x.org>, k@y.org', "Team: a@z.org, b@z.org;"])
    assert [a.addr for a in found] == ["j@x.org", "k@y.org", "a@z.org", "b@z.org"]
    assert found[0].name == "Smith, J"


def test_authentication_results_are_read_without_comments() -> None:
    authserv, results = parse_authentication_results(
        "MX1.Example (Postfix; v=1) 1; spf=pass (sender ok; really) smtp.mailfrom=a.example;"
        ' dmarc=pass (p=reject) header.from="a.example"; none'
    )
    assert authserv == "mx1.example"
    assert [(r.method, r.result) for r in results] == [("spf", "pass"), ("dmarc", "pass")]
    assert results[1].prop("header.from") == "a.example"

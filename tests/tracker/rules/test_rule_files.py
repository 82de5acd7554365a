"""The five rule files: they load, name only templates that exist, quote their sources
faithfully, and ``tracker rules check`` / ``tracker rules explain`` work for each."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tracker.cli import main
from tracker.rules.schema import load_rule_file, rule_files

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "rules"
TEMPLATES = REPO / "templates"
PROCEDURES = REPO.parent / "shared" / "domain" / "procedures"
FIVE = ("bedfordshire", "hull", "llr", "merton", "solihull")
Run = Callable[..., tuple[int, list[str]]]
SOURCES = {
    "bedfordshire": "bedford-borough-central-bedfordshire.txt",
    "hull": "hull.txt",
    "llr": "llr-leicester-leicestershire-rutland.txt",
    "merton": "merton.txt",
    "solihull": "solihull.txt",
}


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """``tracker ...`` with the built-in configuration (this checkout's rules and templates)."""
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)

    def _run(*argv: str) -> tuple[int, list[str]]:
        code = main(list(argv))
        out, _ = capsys.readouterr()
        return code, out.splitlines()

    return _run


# -- loading -------------------------------------------------------------------------------


def test_the_rules_folder_holds_exactly_the_five_partnerships() -> None:
    loaded = {path.stem: load_rule_file(path) for path in rule_files(RULES)}
    assert sorted(loaded) == list(FIVE)
    for name, lp in loaded.items():
        assert lp.rule_file.id == name
        assert re.fullmatch(r"[0-9a-f]{12}", lp.version)
    prefixes = {lp.rule_file.partnership.reference_prefix for lp in loaded.values()}
    assert prefixes == {"BEDS", "HSCB", "LLR", "MSCB", "SSCP"}


def test_bedfordshire_has_its_eleven_tracks() -> None:
    p = load_rule_file(RULES / "bedfordshire.yaml").rule_file
    assert sorted(p.tracks) == [
        "a_own_manager",
        "b_caf",
        "c1_nfa",
        "c2_consent",
        "d_s17_initial",
        "e_s17_core",
        "f_s47_strategy",
        "g_s47_cpc_request",
        "h_s47_cpc",
        "i_core_group",
        "j_post_cp_plan",
    ]
    assert p.default_track == "c1_nfa"
    for track in p.tracks.values():
        for stage in track.stages:
            assert stage.deadline.start == "case_opened"


@pytest.mark.parametrize("name", FIVE)
def test_every_template_a_rule_file_names_exists(name: str) -> None:
    p = load_rule_file(RULES / f"{name}.yaml").rule_file
    templates = p.templates()
    assert templates, "every rule file names at least one template"
    for template in sorted(templates):
        for part in ("subject", "txt"):
            rel = f"{template}.{part}.j2"
            assert (TEMPLATES / name / rel).is_file() or (TEMPLATES / "_default" / rel).is_file(), (
                rel
            )


# -- tracker rules check ---------------------------------------------------------------------


def test_rules_check_accepts_all_five(run: Run) -> None:
    code, out = run("rules", "check")
    assert code == 0
    for name in FIVE:
        [line] = [x for x in out if f"/{name}.yaml: " in x]
        assert line.startswith("ok: ")
    assert not [x for x in out if x.startswith("error")]
    assert out[-1] == "All 5 rule file(s) are valid."


@pytest.mark.parametrize("name", FIVE)
def test_rules_check_accepts_each_file(run: Run, name: str) -> None:
    path = RULES / f"{name}.yaml"
    code, out = run("rules", "check", str(path))
    assert code == 0
    assert out[0].startswith(f"ok: {path}: ")
    assert out[-1] == "All 1 rule file(s) are valid."


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"edit target not unique: {old!r}"
    return text.replace(old, new)


#: Mistakes made in a copy of solihull.yaml: (text, replacement, key path reported).
MISTAKES = {
    "misspelt_key": (
        "        phrases: [next managerial level, management finding solutions]\n",
        "        phrasess: [next managerial level, management finding solutions]\n",
        "tracks.default.stages.1.phrasess",
    ),
    "unknown_unit": (
        "          unit: working_days\n          from: stage_entered\n          basis: stated\n"
        '          quote: "Stage 3',
        "          unit: fortnights\n          from: stage_entered\n          basis: stated\n"
        '          quote: "Stage 3',
        "tracks.default.stages.2.deadline.unit",
    ),
    "within_on_not_stated": (
        "          within: 3\n          unit: working_days\n          from: stage_entered\n"
        "          basis: stated\n",
        "          within: 3\n          from: stage_entered\n          basis: not_stated\n",
        "tracks.default.stages.3.deadline",
    ),
    "unknown_role": (
        "  stage_confirmation:\n    to: [raiser]",
        "  stage_confirmation:\n    to: [raiser, headteacher]",
        "notifications.stage_confirmation.to",
    ),
    "unknown_notification": (
        "    notify: [policy_gap_notice]",
        "    notify: [policy_gap_notce]",
        "flags.policy_gap.notify",
    ),
}


def _broken(tmp_path: Path, mistakes: list[str]) -> Path:
    text = (RULES / "solihull.yaml").read_text(encoding="utf-8")
    for m in mistakes:
        old, new, _ = MISTAKES[m]
        text = _edit(text, old, new)
    folder = tmp_path / "broken"
    folder.mkdir(exist_ok=True)
    path = folder / "solihull.yaml"  # the id must match the file name
    path.write_text(text, encoding="utf-8")
    return path


def _reported(out: list[str], path: Path, key: str) -> bool:
    return any(x.startswith("error: ") and str(path) in x and f"{key}: " in x for x in out)


def test_an_unchanged_copy_passes(run: Run, tmp_path: Path) -> None:
    path = _broken(tmp_path, [])
    code, out = run("rules", "check", str(path))
    assert code == 0 and out[0].startswith(f"ok: {path}: ")


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_rules_check_reports_each_mistake_with_file_and_key_path(
    run: Run, tmp_path: Path, mistake: str
) -> None:
    path = _broken(tmp_path, [mistake])
    code, out = run("rules", "check", str(path))
    assert code == 1
    assert _reported(out, path, MISTAKES[mistake][2]), out
    assert not [x for x in out if x.startswith("ok: ")]
    assert out[-1] == "1 of 1 rule file(s) have errors."


def test_rules_check_reports_every_mistake_in_one_file(run: Run, tmp_path: Path) -> None:
    path = _broken(tmp_path, sorted(MISTAKES))
    code, out = run("rules", "check", str(path))
    assert code == 1
    missing = [key for _, _, key in MISTAKES.values() if not _reported(out, path, key)]
    assert missing == []


def test_rules_check_reports_a_missing_template_and_checks_every_file(
    run: Run, tmp_path: Path
) -> None:
    text = _edit(
        (RULES / "merton.yaml").read_text(encoding="utf-8"),
        "    template: raiser/feedback\n",
        "    template: raiser/feedbak\n",
    )
    bad = tmp_path / "merton.yaml"
    bad.write_text(text, encoding="utf-8")
    good = RULES / "hull.yaml"
    code, out = run("rules", "check", str(bad), str(good))
    assert code == 1
    for part in ("subject", "txt"):
        assert f"error: {bad}: template raiser/feedbak.{part}.j2 not found in {TEMPLATES}" in out
    assert any(x.startswith(f"ok: {good}: ") for x in out)
    assert out[-1] == "1 of 2 rule file(s) have errors."


# -- tracker rules explain -----------------------------------------------------------------------

START = "2026-12-24T16:20:00+00:00"  # Thu 24 Dec 2026, 16:20 GMT

EXPLAIN = {
    "solihull": [
        "  Stage 1: due Tue 29 Dec 2026 17:00",
        "  Stage 2: due Thu 31 Dec 2026 17:00",
        "  Stage 3: due Tue 05 Jan 2027 17:00",
        "  Stage 4: due Fri 08 Jan 2027 16:30",
    ],
    "bedfordshire": [
        "  Stage 1: due Fri 25 Dec 2026 16:20  [out of hours]",  # 24 h later: Christmas Day
        "  Stage 2: due Sat 26 Dec 2026 16:20  [out of hours]",
        "  With nai_infant on arrival: stage 1 due Thu 24 Dec 2026 17:00",
    ],
    "merton": [
        "  Stage 1: due Wed 30 Dec 2026 17:00",
        "  Stage 2: due Thu 31 Dec 2026 17:00",
        "  Stage 3: no deadline (no timescale stated)",
        "  Stage 4: no deadline (as soon as possible)",
    ],
    "hull": [
        "  Stage 1: no deadline (as soon as possible)",
        "  Stage 2: no deadline (timely)",
        "  Stage 3: no deadline (without delay)",
        "  Stage 4: no deadline (no timescale stated)",
        "  Stage 5: no deadline (no timescale stated)",
    ],
    "llr": [
        "  Stage 1: no deadline (as soon as practicable)",
        "  Stage 2: no deadline (timely)",
        "  Stage 3: no deadline (no timescale stated)",
        "  Stage 4: no deadline (no timescale stated)",
        # Issue 11 part 8: no invented 16:00 cut-off, so 16:20 is still the same working day.
        "  With significant_harm on arrival: stage 1 due Thu 24 Dec 2026 17:00",
    ],
}


@pytest.mark.parametrize("name", FIVE)
def test_rules_explain_works_for_every_partnership(run: Run, name: str) -> None:
    code, out = run("rules", "explain", name, "--start", START)
    assert code == 0
    p = load_rule_file(RULES / f"{name}.yaml").rule_file
    assert out[0] == f"{p.partnership.name} ({p.partnership.short}): {p.title}"
    timeline = out.index(
        f"Example timeline (track {p.default_track}): an escalation arriving "
        "Thu 24 Dec 2026 16:20, each stage entered when the one before falls due"
    )
    tail = out[timeline + 1 :]
    assert tail == EXPLAIN[name]


def test_rules_explain_another_bedfordshire_track(run: Run) -> None:
    code, out = run(
        "rules", "explain", "bedfordshire", "--start", START, "--track", "d_s17_initial"
    )
    assert code == 0
    assert "  Stage 1: due Fri 25 Dec 2026 16:20  [out of hours]" in out
    assert "  Stage 2: due Sat 26 Dec 2026 04:20  [out of hours]" in out
    assert "  Stage 3: due Sat 26 Dec 2026 16:20  [out of hours]" in out


def test_rules_explain_refuses_unknown_names(run: Run) -> None:
    code, out = run("rules", "explain", "narnia", "--start", START)
    assert code == 1 and out == [
        "No rule file for 'narnia' (known: bedfordshire, hull, llr, merton, solihull)."
    ]
    code, out = run("rules", "explain", "solihull", "--start", START, "--track", "c1_nfa")
    assert code == 1 and out == ["No track 'c1_nfa'; tracks: default"]


# -- quotes are faithful to the source procedures --------------------------------------------

_PUNCT = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u00a0": " ",
}


def normalise(text: str) -> str:
    """Markup (HTML tags and entities, markdown emphasis), curly quotes, dashes and
    whitespace removed, so a quote matches however the source text was laid out."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("**", "").replace("__", "")
    for a, b in _PUNCT.items():
        text = text.replace(a, b)
    return " ".join(text.split())


def fragments(quote: str) -> list[str]:
    """A quote's parts either side of an elision ("...")."""
    return [f for f in re.split(r"\s*(?:\.\.\.|…)\s*", normalise(quote)) if f]


def quotes(node: object, path: str = "") -> list[tuple[str, str]]:
    """Every ``quote:`` string in a rule file, with its key path."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key == "quote" and isinstance(value, str):
                found.append((here, value))
            else:
                found.extend(quotes(value, here))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(quotes(value, f"{path}.{i}"))
    return found


def _source(name: str) -> str:
    path = PROCEDURES / SOURCES[name]
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing; CI must have the shared domain folder")
        pytest.skip(f"shared domain folder not present ({path}); quotes cannot be checked")
    return normalise(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", FIVE)
def test_quotes_appear_in_the_source_procedure(name: str) -> None:
    source = _source(name)
    found = quotes(yaml.safe_load((RULES / f"{name}.yaml").read_text(encoding="utf-8")))
    assert len(found) >= 4, "every rule file quotes its stage timescales"
    missing = [
        (path, fragment)
        for path, quote in found
        for fragment in fragments(quote)
        if fragment not in source
    ]
    assert missing == []


def test_the_quote_check_can_fail() -> None:
    source = _source("solihull")
    assert "Stage 1 within 1 working day of initiation." in source
    for wrong in ("Stage 1 within 2 working days of initiation.", "Stage 2 within 1 working day"):
        assert all(f in source for f in fragments("Stage 1 within 1 working day of initiation."))
        assert not all(f in source for f in fragments(wrong))
    # An elision joins parts that need not be adjacent, but each part must be there.
    assert all(f in source for f in fragments("The details should also be shared ... evidence"))
    assert not all(f in source for f in fragments("The details should also be shared ... proof"))

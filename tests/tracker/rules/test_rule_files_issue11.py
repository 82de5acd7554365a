"""Issue 11, part 8: the rule files invent nothing.

LLR's procedure says "the escalation must be made on the same working day" and names no
hour, so the rule file sets no cut-off (close of business). A timescale whose number is
printed but whose start is not says ``basis: inferred``.
"""

from __future__ import annotations

from pathlib import Path

from tracker.rules.schema import load_rule_file

RULES = Path(__file__).resolve().parents[3] / "rules"
PROCEDURES = Path(__file__).resolve().parents[4] / "shared" / "domain" / "procedures"


def test_llr_sets_no_same_day_cut_off() -> None:
    llr = load_rule_file(RULES / "llr.yaml").rule_file
    assert llr.calendar.same_day_cutoff is None
    text = (PROCEDURES / "llr-leicester-leicestershire-rutland.txt").read_text()
    assert "same working day" in text and "16:00" not in text


def test_no_rule_file_invents_a_cut_off() -> None:
    for path in sorted(RULES.glob("*.yaml")):
        assert load_rule_file(path).rule_file.calendar.same_day_cutoff is None, path.name


def test_bedfordshire_hours_say_their_start_is_inferred() -> None:
    # Section 5 table: "Practitioner & their Manager to discuss ... Within 24 hours": the
    # hours are printed, the start event is not.
    beds = load_rule_file(RULES / "bedfordshire.yaml").rule_file
    timed = [
        st.deadline for track in beds.tracks.values() for st in track.stages
        if st.deadline.basis != "not_stated"
    ]  # fmt: skip
    assert timed and all(d.basis == "inferred" for d in timed)


def test_merton_timeframes_say_their_start_is_inferred() -> None:
    # 3.8 "... (timeframe 2 Working days)"; 3.10 "... (timeframe 1 Working day)": no start.
    merton = load_rule_file(RULES / "merton.yaml").rule_file
    stages = {st.number: st.deadline for st in merton.tracks["default"].stages}
    assert (stages[1].basis, stages[2].basis) == ("inferred", "inferred")
    assert stages[1].note and stages[2].note


def test_solihull_timescales_name_their_start_and_stay_stated() -> None:
    # "Stage 2 within 2 working days of stage 1".
    solihull = load_rule_file(RULES / "solihull.yaml").rule_file
    assert {st.deadline.basis for st in solihull.tracks["default"].stages} == {"stated"}

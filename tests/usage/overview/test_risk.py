"""The risk ordering of SPEC §9, as a pure function."""

import pytest

from usage.overview.risk import Risk, RiskFigures, risk_of


def figures(state="licensed", usage=((0, 10), (0, None), (0, 100)), days=None, runs_out=None):
    return RiskFigures(state=state, usage=usage, days_to_end=days, runs_out=runs_out)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (figures(state="expired", usage=((10, 10),), days=0, runs_out=True), Risk.EXPIRED),
        (figures(usage=((10, 10),), days=3, runs_out=True), Risk.AT_CAP),
        (figures(usage=((11, 10),)), Risk.AT_CAP),
        (figures(usage=((0, 0),)), Risk.AT_CAP),
        (figures(usage=((95, 100),), days=3, runs_out=True), Risk.PROJECTED_RUN_OUT),
        (figures(usage=((90, 100),), days=3), Risk.NEAR_CAP),
        (figures(usage=((89, 100),), days=30), Risk.ENDING_SOON),
        (figures(usage=((89, 100),), days=31), Risk.NONE),
        (figures(usage=((10**6, None),)), Risk.NONE),
        (figures(state="free_tier", usage=((50, 50),)), Risk.AT_CAP),
        (figures(runs_out=None, days=None), Risk.NONE),
    ],
)
def test_risk_of_takes_the_most_urgent_risk_in_the_order_of_the_spec(case, expected):
    assert risk_of(case) is expected


def test_risks_sort_from_expired_to_the_rest():
    assert sorted(Risk, reverse=True)[-1] is Risk.EXPIRED
    assert [r.label for r in sorted(Risk)][:2] == ["expired", "at or over a cap"]

import pytest

from core.errors import ErrorCode, HamsuError
from routing.engine import Context, load_rules, parse_rules


def test_default_rules_route_cs_and_sales():
    routes = load_rules().route(
        [
            {"kind": "complaint", "score": 0.7},
            {"kind": "upsell", "score": 0.95},
            {"kind": "churn_risk", "score": 0.65},
        ],
        Context(),
    )
    by_queue = {r.queue: r for r in routes}
    assert by_queue["cs"].insights == (0, 2)
    assert by_queue["cs"].priority == "high"  # churn above its band wins over the complaint
    assert by_queue["sales"].insights == (1,)
    assert by_queue["sales"].priority == "high"


def test_min_score_filters_insights():
    rules = parse_rules(
        {"rules": [{"match": {"kind": "complaint", "min_score": 0.8}, "queue": "cs"}]}, "t"
    )
    assert rules.route([{"kind": "complaint", "score": 0.79}], Context()) == []


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"rules": [{"match": {"kind": "praise"}, "queue": "cs"}]}, "match.kind"),
        ({"rules": [{"match": {"kind": "upsell"}, "queue": "no spaces"}]}, "queue"),
        (
            {
                "rules": [
                    {"match": {"kind": "upsell"}, "queue": "s", "priority_bands": {"urgent": 1}}
                ]
            },
            "priority_bands",
        ),
        ({"nothing": 1}, "'rules' list"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_error(raw, fragment):
    with pytest.raises(HamsuError) as err:
        parse_rules(raw, "rules.yaml")
    assert err.value.code is ErrorCode.BAD_RULES
    assert fragment in err.value.message


def test_invalid_yaml_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(HamsuError) as err:
        load_rules(str(path))
    assert "invalid YAML" in err.value.message

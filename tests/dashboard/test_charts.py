"""Figures and HTML built from results: narratives are shown as text, never markup."""

from __future__ import annotations

from dashboard import charts


def test_highlighted_narratives_escape_markup_and_script() -> None:
    words = [
        ("<script>alert('x')</script>", 0.2),
        ("<img", -0.1),
        ("src=x", 0.0),
        ("onerror=alert(1)>", 0.05),
        ("&amp;", 0.01),
    ]
    html = charts.highlighted_words(words)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html and "&amp;amp;" in html
    assert html.count("<span") == len(words)


def test_field_contributions_are_sorted_by_size_with_risk_raising_in_red_and_labels_escaped() -> None:
    drawn = charts.field_contributions({"claimed_amount": 0.12, "witnesses": -0.03, "<b>x</b>": 0.001})
    rows = drawn.split("role='listitem'")[1:]
    assert [r[r.index("tabular-nums'>") + 14 :].split("<")[0] for r in rows] == ["+0.120", "-0.030", "+0.001"]
    assert [charts.POSITIVE in r for r in rows] == [True, False, True]  # red raises the risk, blue lowers it
    assert "left:50.0%; width:50.0%" in rows[0] and "left:37.5%; width:12.5%" in rows[1]  # either side of zero
    assert "<b>" not in drawn and "&lt;b&gt;x&lt;/b&gt;" in drawn


def test_word_importance_colours_are_centred_on_zero() -> None:
    figure = charts.word_importance([("cash", 0.30, 12), ("photos", -0.02, 40), ("receipt", -0.01, 9)])
    colour_axis = figure.layout.coloraxis
    assert colour_axis.cmid == 0.0  # a small negative word is pale blue, not the scale's dark end

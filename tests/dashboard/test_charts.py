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


def test_field_contributions_are_sorted_by_size_with_risk_raising_in_red() -> None:
    figure = charts.field_contributions({"claimed_amount": 0.12, "witnesses": -0.03, "channel": 0.001})
    bar = figure.data[0]
    assert list(bar.x) == [0.001, -0.03, 0.12]  # largest at the top of a horizontal bar chart
    assert list(bar.marker.color) == [charts.POSITIVE, charts.NEGATIVE, charts.POSITIVE]

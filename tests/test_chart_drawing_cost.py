"""What a page spends drawing a chart (issue 21): the chart's spec goes to Streamlit without
Altair's JSON-schema validation (the builders' specs are validated by their tests), and the
CSV of its Download button is written when the button is clicked, not with every view."""
import altair as alt
import pandas as pd
from altair.utils import schemapi
from streamlit.testing.v1 import AppTest


def draw():
    import altair as alt
    import pandas as pd

    from dashboard import ui

    frame = pd.DataFrame({"day": ["2026-12-01", "2026-12-02"], "uploads": [3, 5]})
    ui.chart(alt.Chart(frame).mark_bar().encode(x="day:O", y="uploads:Q"), frame,
             "cost_uploads", what="the uploads")


def test_a_chart_is_drawn_unvalidated_and_its_csv_written_on_demand(monkeypatch):
    validated, written = [], []
    real_validate, real_csv = schemapi.validate_jsonschema, pd.DataFrame.to_csv
    monkeypatch.setattr(schemapi, "validate_jsonschema",
                        lambda *a, **k: validated.append(1) or real_validate(*a, **k))
    monkeypatch.setattr(pd.DataFrame, "to_csv",
                        lambda self, *a, **k: written.append(1) or real_csv(self, *a, **k))
    at = AppTest.from_function(draw).run()
    assert not at.exception, at.exception
    [chart] = at.get("vega_lite_chart")
    assert '"mark"' in chart.proto.spec and '"uploads"' in chart.proto.spec
    [button] = at.get("download_button")
    assert button.proto.label == "Download the uploads (CSV)"
    assert validated == [] and written == []


def test_the_spec_drawn_is_the_validated_one():
    from dashboard import widgets

    frame = pd.DataFrame({"day": ["2026-12-01"], "uploads": [3]})
    chart = alt.Chart(frame).mark_bar().encode(x="day:O", y="uploads:Q")
    assert widgets.Unvalidated(chart).to_dict() == chart.to_dict()   # to_dict() validates

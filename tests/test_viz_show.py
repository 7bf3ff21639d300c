"""``viz.show`` / ``viz.show_in``: figures with alt text, shown once, readable from the kernel."""

from __future__ import annotations

import numpy as np
import pytest

from classicseg import viz

W = pytest.importorskip("ipywidgets")


def _figure(value: float):
    return viz.histogram_split(np.r_[np.zeros(20), np.ones(5) * 4], {"t": value}, bins=5)


def test_show_returns_none_so_a_last_line_is_not_displayed_twice(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    assert viz.show(_figure(1.0), alt="a test histogram") is None
    assert len(shown) == 1 and shown[0].alt == "a test histogram"


def test_show_in_replaces_the_output_with_one_png_with_alt_text():
    out = W.Output()
    fig = viz.show_in(out, _figure(1.0), "first histogram")
    first = out.outputs[0]["data"]["image/png"]
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "t = 1"
    viz.show_in(out, _figure(3.0), "second histogram")
    assert len(out.outputs) == 1                       # replaced, not appended
    assert out.outputs[0]["metadata"]["image/png"]["alt"] == "second histogram"
    assert out.outputs[0]["data"]["image/png"] != first


@pytest.mark.parametrize("alt", ["", "   "])
def test_show_in_refuses_an_empty_alt(alt):
    with pytest.raises(ValueError, match="alt"):
        viz.show_in(W.Output(), _figure(1.0), alt)

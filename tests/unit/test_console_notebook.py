"""The Run code tab's outputs (state/sandbox_notebook.py): what a kernel sent becomes
blocks a page shows safely, whatever the sandbox made up."""

from __future__ import annotations

import base64

from state.sandbox_notebook import HTML_POLICY, MAX_TEXT, CellOutput, add_output, image_url

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def blocks(*events: dict) -> tuple[list[CellOutput], str | None]:
    outputs: list[CellOutput] = []
    count = None
    for event in events:
        count = add_output(outputs, event) or count
    return outputs, count


def test_output_of_one_stream_runs_together_and_the_count_is_kept() -> None:
    outputs, count = blocks(
        {"type": "number_of_executions", "execution_count": 3},
        {"type": "stdout", "text": "a\n"},
        {"type": "stdout", "text": "b\n"},
        {"type": "stderr", "text": "warn\n"},
        {"type": "result", "text": "2", "is_main_result": True},
    )
    assert count == "3"
    assert outputs == [
        CellOutput("stdout", "a\nb\n"),
        CellOutput("stderr", "warn\n"),
        CellOutput("text", "2"),
    ]


def test_an_errors_traceback_loses_its_colour_codes() -> None:
    traceback = "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"
    (error,), _ = blocks(
        {"type": "error", "name": "ZeroDivisionError", "value": "division by zero",
         "traceback": traceback}
    )  # fmt: skip
    assert error == CellOutput(
        "error", "ZeroDivisionError: division by zero", "ZeroDivisionError: division by zero"
    )


def test_a_chart_is_an_image_and_html_gets_the_policy_first() -> None:
    outputs, _ = blocks(
        {"type": "result", "png": PNG, "text": "<Figure>", "is_main_result": False},
        {"type": "result", "html": "<table></table>", "text": "df", "is_main_result": True},
    )
    assert outputs[0] == CellOutput("image", f"data:image/png;base64,{PNG}", "<Figure>")
    assert outputs[1].kind == "html" and outputs[1].text == HTML_POLICY + "<table></table>"
    assert "default-src 'none'" in HTML_POLICY


def test_what_is_not_an_image_is_not_shown_as_one() -> None:
    assert image_url('x" onerror="alert(1)', "image/png") == ""
    assert image_url(12, "image/png") == ""
    assert image_url("", "image/jpeg") == ""
    svg = image_url("<svg onload='alert(1)'/>", "image/svg+xml")
    assert svg.startswith("data:image/svg+xml;base64,") and "<" not in svg


def test_made_up_events_become_text_or_nothing() -> None:
    outputs, count = blocks(
        {"type": "stdout", "text": {"html": "<b>"}},
        {"type": "number_of_executions", "execution_count": "9; alert(1)"},
        {"type": "display_everything"},
        {"type": "result", "html": 5, "text": ["x"]},
    )
    assert count is None
    assert outputs == [CellOutput("stdout", ""), CellOutput("text", "")]


def test_long_output_is_cut_and_says_so() -> None:
    (block,), _ = blocks({"type": "stdout", "text": "x" * (MAX_TEXT + 10)})
    assert len(block.text) < MAX_TEXT + 100 and block.text.endswith("characters of it]")

"""Small input dialogs: the filter expression (`/`) and the export path (`e`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from velo_tui.widgets.text import label

FILTER_HELP = (
    "Expression over the record's fields, e.g. line_total > 1000, status = 'shipped', "
    "tier ~ PREM; combine with and / or. Empty clears the filter."
)
EXPORT_HELP = "Format from the suffix: .json, .jsonl, .csv or .parquet. The current filter applies."


class PromptScreen(ModalScreen[str | None]):
    """One labelled input; enter returns its text, escape returns None."""

    BINDINGS = [Binding("escape", "cancel", "cancel", id="prompt.cancel")]

    def __init__(self, title: str, help_text: str, value: str = "", *,
                 placeholder: str = "", dialog_id: str, cursor_blink: bool = True) -> None:
        super().__init__()
        self.prompt_title = title
        self.help_text = help_text
        self.initial_value = value
        self.placeholder = placeholder
        self.dialog_id = dialog_id
        self.cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical(id=self.dialog_id, classes="dialog prompt-dialog"):
            yield Static(self.help_text, classes="dialog-help", markup=False)
            field = Input(value=self.initial_value, placeholder=self.placeholder, id="prompt-input")
            field.cursor_blink = self.cursor_blink
            yield field
            yield Static("enter apply · escape cancel", classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self.query_one(f"#{self.dialog_id}").border_title = label(self.prompt_title)
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


def filter_prompt(target: str, expression: str, cursor_blink: bool = True) -> PromptScreen:
    """Return the dialog that requests a filter expression for `target`."""
    return PromptScreen(
        f"filter · {target}", FILTER_HELP, expression,
        placeholder="line_total > 1000", dialog_id="filter-dialog", cursor_blink=cursor_blink,
    )


def export_prompt(target: str, path: str, cursor_blink: bool = True) -> PromptScreen:
    """Return the dialog that requests the file to export `target` to."""
    return PromptScreen(
        f"export · {target}", EXPORT_HELP, path,
        placeholder="records.json", dialog_id="export-dialog", cursor_blink=cursor_blink,
    )

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
EXPORT_HELP = "Format from the suffix: .json, .jsonl, .csv or .parquet."


class PromptScreen(ModalScreen[str | None]):
    """One labelled input; enter returns its text, escape returns None."""

    BINDINGS = [Binding("escape", "cancel", "cancel", id="prompt.cancel")]

    def __init__(self, title: str, help_text: str, value: str = "", *,
                 placeholder: str = "", dialog_id: str, cursor_blink: bool = True,
                 summary: str | None = None, select_on_focus: bool = True) -> None:
        super().__init__()
        self.prompt_title = title
        self.help_text = help_text
        self.initial_value = value
        self.placeholder = placeholder
        self.dialog_id = dialog_id
        self.cursor_blink = cursor_blink
        #: What the dialog acts on, shown in bold above the help text, or None for no such line.
        self.summary = summary
        #: True selects the whole value when the dialog opens, so typing replaces it. False puts
        #: the cursor after the value, ready for editing.
        self.select_on_focus = select_on_focus

    def compose(self) -> ComposeResult:
        with Vertical(id=self.dialog_id, classes="dialog prompt-dialog"):
            if self.summary is not None:
                yield Static(label(self.summary), id="prompt-summary", markup=False)
            yield Static(self.help_text, classes="dialog-help", markup=False)
            field = Input(value=self.initial_value, placeholder=self.placeholder, id="prompt-input",
                          select_on_focus=self.select_on_focus)
            field.cursor_blink = self.cursor_blink
            yield field
            yield Static("enter apply · escape cancel", classes="dialog-help", markup=False)

    def on_mount(self) -> None:
        self.query_one(f"#{self.dialog_id}").border_title = label(self.prompt_title)
        self.query_one(Input).focus()

    def set_summary(self, summary: str) -> None:
        """Replace the summary line, for example once the records to export are counted."""
        self.summary = summary
        self.query_one("#prompt-summary", Static).update(label(summary))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


def filter_prompt(target: str, expression: str, cursor_blink: bool = True) -> PromptScreen:
    """Return the dialog that requests a filter expression for `target`, starting from `expression`.

    The current filter is the input's value, with the cursor after it, so it can be edited.
    """
    summary = f"Current filter: {expression}" if expression else "No filter is set."
    return PromptScreen(
        f"filter · {target}", FILTER_HELP, expression, summary=summary, select_on_focus=False,
        placeholder="an expression (empty shows all records)", dialog_id="filter-dialog",
        cursor_blink=cursor_blink,
    )


def export_summary(target: str, expression: str | None, count: int | None, *, dlq: bool = False,
                   error: str | None = None) -> str:
    """Describe what an export writes: "records of NAME where EXPR (N records)" or "DLQ entries (N)".

    `count` is None while the records are being counted, and `error` is the message of a failed count.
    """
    if error is not None:
        amount = f"counting failed: {error}"
    elif count is None:
        amount = "counting…"
    elif dlq:
        amount = f"{count:,}"
    else:
        amount = f"{count:,} record{'' if count == 1 else 's'}"
    if dlq:
        return f"DLQ entries ({amount})"
    where = f" where {expression}" if expression else ""
    return f"records of {target}{where} ({amount})"


def export_prompt(path: str, summary: str, help_text: str = EXPORT_HELP,
                  cursor_blink: bool = True) -> PromptScreen:
    """Return the dialog that requests the file for the export that `summary` describes."""
    return PromptScreen(
        "export", help_text, path, summary=summary,
        placeholder="records.json", dialog_id="export-dialog", cursor_blink=cursor_blink,
    )

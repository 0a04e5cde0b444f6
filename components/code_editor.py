"""A code editor with syntax highlighting (CodeMirror 6 through @uiw/react-codemirror),
wrapped from code_editor.jsx beside this file. A NoSSRComponent: the browser imports it
only when one is shown (the editor and each language load lazily)."""

from __future__ import annotations

import reflex as rx
from reflex.components.component import NoSSRComponent

_wrapper = rx.asset("code_editor.jsx", shared=True)


class CodeEditor(NoSSRComponent):
    library = _wrapper.importable_path
    tag = "CodeEditor"
    lib_dependencies: list[str] = [
        "@uiw/react-codemirror@4.25.12",
        "@codemirror/language@6.13.1",
        "@codemirror/language-data@6.5.2",
        "@codemirror/view@6.44.2",
        "@codemirror/state@6.7.6",
        "@codemirror/theme-one-dark@6.1.3",
        "codemirror@6.0.2",
        "@babel/runtime@7.29.16",
    ]

    editor_id: rx.Var[str]  # the key Save reads the text by (window.mboxEditorText)
    value: rx.Var[str]  # the text it starts with
    filename: rx.Var[str]  # picks the highlighting by extension or name
    label: rx.Var[str]  # the text area's accessible name
    dark: rx.Var[bool]
    height: rx.Var[str]
    max_height: rx.Var[str]


code_editor = CodeEditor.create

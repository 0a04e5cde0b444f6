/**
 * A CodeMirror 6 editor for a workspace file (components/code_editor.py).
 *
 * Loaded lazily (the Python side is a NoSSRComponent: a dynamic import), so the sandbox
 * page's first load does not carry it; each language's highlighting is loaded only when
 * a file of that language is opened (@codemirror/language-data imports it on demand).
 *
 * The text is never sent while typing: it is kept here by editor id, and the page's Save
 * reads it with `window.mboxEditorText(id)` (state/sandbox_files.py measures it first).
 */
import React, { useEffect, useMemo, useState } from "react";
import CodeMirror from "@uiw/react-codemirror";
import { EditorView } from "@codemirror/view";
import { LanguageDescription } from "@codemirror/language";
import { languages } from "@codemirror/language-data";

const texts = {};
if (typeof window !== "undefined") {
  window.mboxEditorText = (id) => (id in texts ? texts[id] : null);
}

export function CodeEditor({ editorId, value, filename, label, dark, height, maxHeight }) {
  const [language, setLanguage] = useState(null);

  useEffect(() => {
    texts[editorId] = value ?? "";
    return () => {
      delete texts[editorId];
    };
  }, [editorId, value]);

  useEffect(() => {
    let current = true;
    const found = LanguageDescription.matchFilename(languages, filename || "");
    setLanguage(null);
    if (found) {
      found
        .load()
        .then((support) => current && setLanguage(support))
        .catch(() => {});
    }
    return () => {
      current = false;
    };
  }, [filename]);

  const extensions = useMemo(() => {
    const named = EditorView.contentAttributes.of({ "aria-label": label || "File text" });
    return language ? [named, EditorView.lineWrapping, language] : [named, EditorView.lineWrapping];
  }, [language, label]);

  return (
    <CodeMirror
      value={value ?? ""}
      height={height}
      maxHeight={maxHeight}
      theme={dark ? "dark" : "light"}
      extensions={extensions}
      basicSetup={{ foldGutter: false, autocompletion: false }}
      onChange={(text) => {
        texts[editorId] = text;
      }}
    />
  );
}

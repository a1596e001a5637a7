// The libraries of the composer's editor, bundled into one file (static/vendor/editor.bundle.js)
// and exposed as `window.MissiveEditorKit`. Our own code that uses them is static/js/editor.js,
// served as written: this entry point only gathers the packages.
import { Editor, Extension } from "@tiptap/core";
import StarterKit from "@tiptap/starter-kit";
import Collaboration from "@tiptap/extension-collaboration";
import CollaborationCaret from "@tiptap/extension-collaboration-caret";
import Image from "@tiptap/extension-image";
import { Placeholder } from "@tiptap/extensions";
import { DOMParser as ProseMirrorDOMParser } from "@tiptap/pm/model";
import { prosemirrorToYXmlFragment } from "@tiptap/y-tiptap";
import * as Y from "yjs";
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from "y-protocols/awareness";

window.MissiveEditorKit = {
  Editor,
  Extension,
  StarterKit,
  Collaboration,
  CollaborationCaret,
  Image,
  Placeholder,
  ProseMirrorDOMParser,
  prosemirrorToYXmlFragment,
  Y,
  Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
};

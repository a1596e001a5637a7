// Prints the versions of the editor's main packages, as installed from the lock file, for
// static/vendor/VERSIONS.txt (`make editor`).
const installed = require("./package-lock.json").packages;
const names = [
  "@tiptap/core", "@tiptap/starter-kit", "@tiptap/extension-collaboration", "@tiptap/extension-collaboration-caret",
  "@tiptap/extension-image", "@tiptap/y-tiptap", "yjs", "y-protocols", "esbuild",
];
for (const name of names) console.log(`editor ${name} ${installed["node_modules/" + name].version}`);

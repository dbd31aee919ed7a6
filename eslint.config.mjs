// ESLint for the front end (`npx eslint static/ tests/js/`): the recommended rules' core,
// spelled out here so the config needs no package beside eslint itself. static/js/*.js are
// classic scripts, except the ES modules listed in MODULES.
const MODULES = ["static/js/upload.js"];

const browser = Object.fromEntries(
  [
    "window", "document", "console", "fetch", "XMLHttpRequest", "FormData", "URL", "URLSearchParams",
    "WebSocket", "setTimeout", "clearTimeout", "setInterval", "clearInterval", "requestAnimationFrame",
    "cancelAnimationFrame", "localStorage", "crypto", "AudioContext", "AudioWorkletNode", "Blob",
    "Event", "CustomEvent", "HTMLElement", "performance", "navigator", "location", "history",
    "AbortController", "DOMParser", "MutationObserver", "Promise", "Response", "Float32Array", "Uint8Array", "Map", "Set",
  ].map((name) => [name, "readonly"]),
);
const node = Object.fromEntries(
  ["process", "console", "URL", "setTimeout", "clearTimeout", "structuredClone"].map((name) => [name, "readonly"]),
);

const rules = {
  "no-undef": "error",
  "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
  "no-redeclare": "error",
  "no-dupe-keys": "error",
  "no-unreachable": "error",
  "no-const-assign": "error",
  "no-self-assign": "error",
  "no-fallthrough": "error",
  "eqeqeq": ["error", "smart"],
  "use-isnan": "error",
  "valid-typeof": "error",
};

export default [
  { ignores: ["node_modules/", "static/vendor/", ".venv/"] },
  {
    files: ["static/js/**/*.js"],
    ignores: MODULES,
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: browser },
    rules,
  },
  {
    files: MODULES,
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: browser },
    rules,
  },
  {
    files: ["tests/js/**/*.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: node },
    rules,
  },
];

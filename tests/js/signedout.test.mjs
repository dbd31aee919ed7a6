// What a signed-out page keeps of its forms (static/js/signedout.js): the fields the user
// changed, never passwords, files or the CSRF token, and put back only into fields still
// as the server sent them. The script is a classic browser script: it runs here in a
// context without a document, and its pure functions are driven with stand-in forms.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import vm from "node:vm";

const source = readFileSync(new URL("../../static/js/signedout.js", import.meta.url), "utf8");

function load() {
  const context = { window: {} };
  vm.runInNewContext(source, context, { filename: "signedout.js" });
  return context.window.JamSignedOut;
}

function field(name, value, { type = "text", tag = "input", initial = "" } = {}) {
  return { name, type, tagName: tag.toUpperCase(), value, defaultValue: initial, disabled: false };
}

function form(action, fields) {
  return { getAttribute: (name) => (name === "action" ? action : null), elements: fields };
}

test("only the fields the user changed are kept, and no secret", () => {
  const { snapshot } = load();
  const rename = form("/tracks/1/rename/", [
    field("csrfmiddlewaretoken", "token", { type: "hidden" }),
    field("title", "A better title", { initial: "Song" }),
    field("notes", "same", { initial: "same", tag: "textarea" }),
    field("password", "hunter2", { type: "password" }),
  ]);
  const untouched = form("/bands/create/", [field("name", "", { initial: "" })]);
  assert.deepEqual(JSON.parse(JSON.stringify(snapshot([rename, untouched]))), {
    "/tracks/1/rename/#0": { title: "A better title" },
  });
});

test("kept input goes back only into the same form's fields left as the server sent them", () => {
  const { restore } = load();
  const fresh = [
    form("/tracks/1/rename/", [field("title", "Song", { initial: "Song" })]),
    form("/bands/create/", [field("name", "typed since", { initial: "" })]),
  ];
  const restored = restore(fresh, {
    "/tracks/1/rename/#0": { title: "A better title" },
    "/bands/create/#1": { name: "The Night Shift" },
  });
  assert.equal(restored, 1);
  assert.equal(fresh[0].elements[0].value, "A better title");
  assert.equal(fresh[1].elements[0].value, "typed since");
});

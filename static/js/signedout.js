// A page whose session ended says so at once, and keeps what was typed in its forms.
//
// static/js/app.js dispatches "jam:signed-out" on the document when the notification
// socket closes because the session ended (code 4401: a log-out, here or in another tab; a
// new password) or the account was suspended (4403); the socket's last message gives the
// text. Then this script:
//   - shows a banner that stays (role="alert") with that text;
//   - keeps what is typed in the page's forms in sessionStorage (this tab only), now and
//     on every keystroke after, under the page's path;
//   - holds a form's submit while signed out (it would bounce to the log-in page and lose
//     the input): it first asks the socket whether the browser is signed in again (in
//     another tab), and only then sends it.
// Whenever a page of this path loads again signed in (a reload, the log-in page's "next"),
// the kept input is put back into fields still as the server sent them, and forgotten.
(function () {
  "use strict";

  var PREFIX = "jam:kept:";
  // Never kept: secrets, files, and the hidden fields the server fills in itself.
  var SKIPPED = { password: true, file: true, hidden: true, submit: true, button: true, reset: true, image: true };

  function keptFields(form) {
    return Array.prototype.filter.call(form.elements, function (field) {
      if (!field.name || field.disabled || field.name === "csrfmiddlewaretoken") return false;
      var tag = field.tagName.toLowerCase();
      if (tag === "textarea" || tag === "select") return true;
      return tag === "input" && !SKIPPED[(field.type || "text").toLowerCase()];
    });
  }

  function fieldValue(field) {
    var type = (field.type || "").toLowerCase();
    if (type === "checkbox" || type === "radio") return field.checked;
    return field.value;
  }

  function untouched(field) {
    var type = (field.type || "").toLowerCase();
    if (type === "checkbox" || type === "radio") return field.checked === field.defaultChecked;
    if (field.tagName.toLowerCase() === "select") {
      return Array.prototype.every.call(field.options, function (o) { return o.selected === o.defaultSelected; });
    }
    return field.value === field.defaultValue;
  }

  function formKey(form, index) {
    return (form.getAttribute("action") || "") + "#" + index;
  }

  // What the user changed in each form: {formKey: {fieldName: value}}; forms left as the
  // server sent them are left out.
  function snapshot(forms) {
    var kept = {};
    forms.forEach(function (form, index) {
      var values = {};
      var changed = false;
      keptFields(form).forEach(function (field) {
        if (untouched(field)) return;
        var key = field.name + ((field.type === "radio") ? "=" + field.value : "");
        values[key] = fieldValue(field);
        changed = true;
      });
      if (changed) kept[formKey(form, index)] = values;
    });
    return kept;
  }

  // Put kept values back into fields that are still as the server sent them; returns how
  // many fields were restored.
  function restore(forms, kept) {
    var restored = 0;
    forms.forEach(function (form, index) {
      var values = kept[formKey(form, index)];
      if (!values) return;
      keptFields(form).forEach(function (field) {
        var key = field.name + ((field.type === "radio") ? "=" + field.value : "");
        if (!(key in values) || !untouched(field)) return;
        var type = (field.type || "").toLowerCase();
        if (type === "checkbox" || type === "radio") field.checked = Boolean(values[key]);
        else field.value = values[key];
        restored += 1;
      });
    });
    return restored;
  }

  var api = { snapshot: snapshot, restore: restore, PREFIX: PREFIX };
  if (typeof window !== "undefined") window.JamSignedOut = api;
  if (typeof document === "undefined" || !document.addEventListener) return;

  var state = { signedOut: false, why: "" };

  function pageForms() {
    return Array.prototype.slice.call(document.querySelectorAll("main form[method=post], main form[method=POST]"));
  }

  function storageKey() {
    return PREFIX + window.location.pathname;
  }

  function keep() {
    try {
      var kept = snapshot(pageForms());
      if (Object.keys(kept).length) window.sessionStorage.setItem(storageKey(), JSON.stringify(kept));
      else window.sessionStorage.removeItem(storageKey());
    } catch (err) { /* storage full or refused: the banner still warns */ }
  }

  function banner(text, kind) {
    var box = document.getElementById("session-banner");
    if (!box) {
      box = document.createElement("div");
      box.id = "session-banner";
      box.setAttribute("role", "alert");
      document.body.insertBefore(box, document.body.firstChild);
    }
    box.className = "session-banner " + (kind || "");
    box.textContent = text;
    box.hidden = false;
    return box;
  }

  // Is this browser signed in again (in another tab)? The notification socket answers:
  // it opens for a signed-in session and is refused otherwise.
  function signedInAgain(path, answer) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var probe = new WebSocket(scheme + window.location.host + path);
    var done = false;
    probe.addEventListener("open", function () {
      done = true;
      probe.close(1000);
      answer(true);
    });
    probe.addEventListener("close", function () {
      if (!done) answer(false);
    });
  }

  document.addEventListener("jam:signed-out", function (event) {
    var detail = event.detail || {};
    state.signedOut = true;
    state.why = detail.why || "signed_out";
    keep();
    banner(detail.message || "You were signed out. Sign in again in another tab; what you typed here is kept.",
      state.why === "suspended" ? "suspended" : "");
  });

  document.addEventListener("input", function () {
    if (state.signedOut) keep();
  });

  document.addEventListener("submit", function (event) {
    if (!state.signedOut) return;
    var form = event.target;
    if (form.matches && form.matches("form[action$='/logout/']")) return;
    event.preventDefault();
    keep();
    var path = document.body.dataset.notifications;
    if (state.why === "suspended" || !path) return;
    signedInAgain(path, function (yes) {
      if (!yes) {
        banner("Still signed out: sign in again in another tab, then send this again. What you typed here is kept.");
        return;
      }
      state.signedOut = false;
      var box = document.getElementById("session-banner");
      if (box) box.hidden = true;
      window.sessionStorage.removeItem(storageKey());
      if (form.requestSubmit) form.requestSubmit(event.submitter || undefined);
      else form.submit();
    });
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.body.dataset.notifications) return; // signed out: keep it for later
    var saved = null;
    try { saved = window.sessionStorage.getItem(storageKey()); } catch (err) { saved = null; }
    if (!saved) return;
    window.sessionStorage.removeItem(storageKey());
    var kept = {};
    try { kept = JSON.parse(saved) || {}; } catch (err) { kept = {}; }
    if (restore(pageForms(), kept)) {
      banner("What you typed before you were signed out is back in the form below. Check it and send it again.", "restored");
    }
  });
})();

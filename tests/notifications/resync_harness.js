// Runs static/js/app.js against a stand-in page and WebSocket (no browser), then prints
// what the page fetched at each step as JSON. Driven by test_reconnect.py.
"use strict";
const fs = require("fs");
const vm = require("vm");

const fetched = [];
const sockets = [];
const timers = [];
const onDocument = {};
const dispatched = [];

function element(dataset) {
  return {
    dataset: dataset,
    replaceWith() {},
    querySelector() { return null; },
    querySelectorAll() { return []; },
  };
}
const row = element({ trackId: "t-row", fragmentUrl: "/tracks/t-row/row/" });
const panel = element({ trackId: "t-panel", panelUrl: "/tracks/t-panel/panel/" });

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.listeners = {};
    sockets.push(this);
  }
  addEventListener(type, listener) { this.listeners[type] = listener; }
}

const document = {
  body: { dataset: { notifications: "/ws/notifications/" } },
  addEventListener(type, listener) { onDocument[type] = listener; },
  querySelectorAll(selector) { return selector === "[data-track-id]" ? [row, panel] : []; },
  querySelector() { return null; },
  getElementById() { return null; },
  dispatchEvent(event) { dispatched.push(event); },
};
class CustomEvent {
  constructor(type, init) { this.type = type; this.detail = (init || {}).detail; }
}
const context = {
  window: {
    location: { protocol: "http:", host: "jam.test", pathname: "/", search: "", href: "http://jam.test/" },
    WebSocket: FakeSocket,
  },
  document: document,
  CustomEvent: CustomEvent,
  WebSocket: FakeSocket,
  fetch(url) { fetched.push(url); return new Promise(function () {}); },
  setTimeout(callback) { timers.push(callback); },
  encodeURIComponent: encodeURIComponent,
  JSON: JSON,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(process.argv[2], "utf8"), context);

const steps = {};
onDocument.DOMContentLoaded();
sockets[0].listeners.open();
steps.first_open = fetched.splice(0);
sockets[0].listeners.close({ code: 1011 });
timers.shift()();
sockets[1].listeners.open();
steps.reopen = fetched.splice(0);
sockets[1].listeners.message({
  data: JSON.stringify({ type: "notifications.closed", why: "signed_out", message: "You were signed out." }),
});
sockets[1].listeners.close({ code: 4401 });
steps.sockets_after_sign_out = sockets.length + timers.length;
steps.told = dispatched.map(function (event) { return [event.type, event.detail.why, event.detail.message]; });
process.stdout.write(JSON.stringify(steps));

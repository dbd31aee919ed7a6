// JamWithMe front end: upload progress, live job notifications, toasts. No dependencies.
(function () {
  "use strict";

  function toast(text, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var item = document.createElement("div");
    item.className = "toast " + (kind || "");
    item.setAttribute("role", "status");
    item.textContent = text;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }

  // --- Upload with a progress bar (XHR upload events) -------------------------------------
  function setUpUpload(form) {
    var bar = form.querySelector("[data-role=upload-progress]");
    var meter = bar.querySelector("progress");
    var label = form.querySelector("[data-role=upload-percent]");
    var errors = form.querySelector("[data-role=upload-errors]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      errors.textContent = "";
      button.disabled = true;
      bar.hidden = false;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        var percent = Math.round((e.loaded / e.total) * 100);
        meter.value = percent;
        label.textContent = percent < 100 ? percent + "%" : "Checking the audio…";
      });
      xhr.addEventListener("load", function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText); } catch (err) { data = {}; }
        if (xhr.status === 201 && data.redirect) {
          window.location.href = data.redirect;
          return;
        }
        var list = data.errors || ["The upload failed (" + xhr.status + "). Please try again."];
        list.forEach(function (text) {
          var li = document.createElement("li");
          li.textContent = text;
          errors.appendChild(li);
        });
        bar.hidden = true;
        button.disabled = false;
      });
      xhr.addEventListener("error", function () {
        var li = document.createElement("li");
        li.textContent = "The connection was lost during the upload. Please try again.";
        errors.appendChild(li);
        bar.hidden = true;
        button.disabled = false;
      });
      xhr.send(new FormData(form));
    });
  }

  // --- Live notifications -----------------------------------------------------------------
  function statusLabel(event) {
    var names = { queued: "Queued", running: "Separating", done: "Done", failed: "Failed", cancelled: "Cancelled" };
    var text = names[event.status] || event.status;
    return event.status === "running" ? text + " " + event.progress + "%" : text;
  }

  function refreshRow(row) {
    fetch(row.dataset.rowUrl, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var holder = document.createElement("div");
        holder.innerHTML = html.trim();
        if (holder.firstElementChild) row.replaceWith(holder.firstElementChild);
      });
  }

  function applyEvent(event) {
    var selector = "[data-track-id='" + event.track_id + "']";
    var nodes = document.querySelectorAll(selector);
    // A page rendered after the change already shows it (e.g. the track page reloads on
    // "done" and its socket hears the same state again): no second toast then.
    var alreadyShown = nodes.length > 0;
    nodes.forEach(function (node) {
      var previous = node.dataset.status;
      if (previous !== event.status) alreadyShown = false;
      node.dataset.status = event.status;
      var label = node.querySelector("[data-role=status-label]");
      if (label) label.textContent = statusLabel(event);
      var meter = node.querySelector("[data-role=progress]");
      if (meter) meter.value = event.progress;
      var box = node.querySelector("[data-role=status]");
      if (box) box.className = "status status-" + event.status;
      if (previous !== event.status && event.status !== "running") {
        if (node.dataset.rowUrl) refreshRow(node);
        else if (node.hasAttribute("data-reload-on-change")) window.location.reload();
      }
    });
    if (alreadyShown) return;
    if (event.type === "separation.done") {
      toast("“" + event.title + "” is ready: your jam track is in the library.", "done");
    } else if (event.type === "separation.failed") {
      toast("“" + event.title + "” failed: " + event.error, "failed");
    }
  }

  function connect(path, delay) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + path);
    socket.addEventListener("open", function () { delay = 1000; });
    socket.addEventListener("message", function (message) {
      try { applyEvent(JSON.parse(message.data)); } catch (err) { /* ignore malformed */ }
    });
    socket.addEventListener("close", function () {
      setTimeout(function () { connect(path, Math.min(delay * 2, 30000)); }, delay);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-upload]").forEach(setUpUpload);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    var path = document.body.dataset.notifications;
    if (path && "WebSocket" in window) connect(path, 1000);
  });
})();

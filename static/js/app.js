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
    // Each chosen file gets an idempotency key: a retried post (its first answer lost)
    // finds the first one's track instead of making another.
    var file = form.querySelector("input[type=file]");
    var key = form.querySelector("[name=upload_key]");
    if (file && key && window.crypto && window.crypto.randomUUID) {
      file.addEventListener("change", function () { key.value = window.crypto.randomUUID(); });
    }
    if (form.dataset.direct) return; // static/js/upload.js sends it straight to the bucket
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
  // One socket carries every kind of user event; each kind has a handler, keyed by the
  // event's `type`. Labels and messages come from the server, never spelled out here.

  function fetchFragment(url) {
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return null;
        var holder = document.createElement("div");
        holder.innerHTML = html.trim();
        return holder;
      });
  }

  // A live list's empty-state text shows exactly when the list has no track (the last one
  // unshared, hidden or deleted while the page is open; the first one added).
  function showEmptyStates() {
    var empty = document.querySelector("[data-role=empty]");
    var list = document.querySelector("[data-live-list]");
    if (!empty || !list) return;
    empty.hidden = list.querySelector("[data-track-id]") !== null;
  }

  // A library row: replaced whole (it holds no player that is playing for long).
  function refreshRow(row) {
    var here = window.location.pathname + window.location.search;
    var url = row.dataset.fragmentUrl + "?page_url=" + encodeURIComponent(here);
    fetchFragment(url).then(function (holder) {
      if (holder && holder.firstElementChild) row.replaceWith(holder.firstElementChild);
    });
  }

  // The track page: the status and downloads are replaced; the player only when it must
  // play other stems (static/js/player.js hands over, so whatever is playing plays on).
  function refreshPanel(page) {
    fetchFragment(page.dataset.panelUrl).then(function (holder) {
      if (!holder) return;
      var panel = page.querySelector("[data-role=panel]");
      ["status", "downloads", "source"].forEach(function (role) {
        var fresh = holder.querySelector("[data-role=" + role + "]");
        var old = panel.querySelector("[data-role=" + role + "]");
        if (fresh && old) old.replaceWith(fresh);
      });
      var slot = panel.querySelector("[data-role=player-slot]");
      var player = holder.querySelector("[data-player]");
      var playing = slot && slot.querySelector("[data-player]");
      if (!slot || !player) return;
      if (!playing) slot.appendChild(player);
      else if (playing.dataset.parts !== player.dataset.parts && window.JamPlayer) {
        window.JamPlayer.replace(playing, player);
      }
    });
  }

  // Each track's status as the page was rendered with it, then as events told it: a page
  // rendered after a change already shows it, so no toast then. Not what a row re-fetched
  // since shows: that may already be "done" when the done event comes (a quick job), and
  // the musician must still be told.
  var toldStatus = {};

  function noteRenderedStatuses() {
    document.querySelectorAll("[data-track-id][data-status]").forEach(function (node) {
      if (!(node.dataset.trackId in toldStatus)) toldStatus[node.dataset.trackId] = node.dataset.status;
    });
  }

  function onJobEvent(event) {
    var nodes = document.querySelectorAll("[data-track-id='" + event.track_id + "']");
    var alreadyShown = toldStatus[event.track_id] === event.status;
    toldStatus[event.track_id] = event.status;
    nodes.forEach(function (node) {
      var previous = node.dataset.status;
      node.dataset.status = event.status;
      var label = node.querySelector("[data-role=status-label]");
      if (label) label.textContent = event.status_label;
      var meter = node.querySelector("[data-role=progress]");
      if (meter) meter.value = event.progress;
      var box = node.querySelector("[data-role=status]");
      if (box) box.className = "status status-" + event.status;
      // Any change of status re-fetches the markup: the actions offered change with it
      // (Cancel while queued or running, Retry once failed or cancelled), and so do the players.
      if (previous !== event.status) {
        if (node.dataset.fragmentUrl) refreshRow(node);
        else if (node.dataset.panelUrl) refreshPanel(node);
      }
    });
    if (!alreadyShown && event.message) {
      toast(event.message, /\.failed$/.test(event.type) ? "failed" : "done");
    }
  }

  // What a listener may hear changed (the owner allowed or withdrew the vocals).
  function onTrackChanged(event) {
    document.querySelectorAll("[data-track-id='" + event.track_id + "']").forEach(function (node) {
      if (node.dataset.fragmentUrl) refreshRow(node);
      else if (node.dataset.panelUrl) refreshPanel(node);
    });
  }

  // A track joins the live lists on the page that `wanted(list)` says it belongs in, at the top.
  function addToLiveLists(event, wanted) {
    document.querySelectorAll("[data-live-list]").forEach(function (list) {
      if (!wanted(list)) return;
      if (list.querySelector("[data-track-id='" + event.track_id + "']")) return;
      var here = window.location.pathname + window.location.search;
      var url = list.dataset.rowUrl.replace("00000000-0000-0000-0000-000000000000", event.track_id);
      fetchFragment(url + "?page_url=" + encodeURIComponent(here)).then(function (holder) {
        if (!holder || !holder.firstElementChild) return;
        list.insertBefore(holder.firstElementChild, list.firstChild);
        showEmptyStates();
      });
    });
  }

  // A track shared while "Shared with you" (or that band's library) is open joins the list.
  function onTrackShared(event) {
    toast(event.message, "done");
    addToLiveLists(event, function (list) {
      if (list.dataset.liveList === "band") return list.dataset.bandId === event.band_id;
      return list.dataset.liveList === "shared";
    });
  }

  // A track uploaded (in this tab or another) joins every open "Your tracks" list.
  function onTrackCreated(event) {
    addToLiveLists(event, function (list) { return list.dataset.liveList === "mine"; });
  }

  // Access is gone (unshared, left the band, hidden by the moderators): whatever of the
  // track is on the page stops and goes, at once.
  function onTrackRevoked(event) {
    document.querySelectorAll("[data-track-id='" + event.revoked_track_id + "']").forEach(function (node) {
      node.querySelectorAll("audio").forEach(function (audio) {
        audio.pause();
        audio.removeAttribute("src");
        audio.load();
      });
      node.querySelectorAll("[data-player]").forEach(function (player) {
        if (player.jamPlayer) player.jamPlayer.destroy();
      });
      if (node.dataset.fragmentUrl) {
        node.remove();
        return;
      }
      node.textContent = "";
      var notice = document.createElement("p");
      notice.className = "notice";
      notice.setAttribute("role", "status");
      notice.textContent = event.message + " ";
      var back = document.createElement("a");
      back.href = document.body.dataset.sharedUrl;
      back.textContent = "Back to what is shared with you";
      notice.appendChild(back);
      node.appendChild(notice);
    });
    showEmptyStates();
    toast(event.message, "failed");
  }

  function stopPlaying(node) {
    node.querySelectorAll("audio").forEach(function (audio) {
      audio.pause();
      audio.removeAttribute("src");
      audio.load();
    });
    node.querySelectorAll("[data-player]").forEach(function (player) {
      if (player.jamPlayer) player.jamPlayer.destroy();
    });
  }

  // The moderators hid, removed or unhid one of the user's own tracks: a notice that stays
  // at the top of every open page (with their message, never their reason), and the track's
  // page or row follows.
  function onTrackModerated(event) {
    var text = event.notice + (event.message ? " Their message to you: " + event.message : "");
    var main = document.querySelector("main");
    var pageOfIt = document.querySelector(
      "[data-panel-url][data-track-id='" + event.moderated_track_id + "']");
    // The track's own page says it in place (below); a removed one's page has nothing left.
    if (main && (!pageOfIt || event.action === "removed")) {
      var banner = document.createElement("div");
      banner.className = "notice moderation-banner";
      banner.setAttribute("role", "alert");
      banner.dataset.role = "moderation-banner";
      banner.textContent = text + " ";
      var close = document.createElement("button");
      close.type = "button";
      close.className = "link";
      close.textContent = "Dismiss";
      close.addEventListener("click", function () { banner.remove(); });
      banner.appendChild(close);
      main.insertBefore(banner, main.firstChild);
    }
    document.querySelectorAll("[data-track-id='" + event.moderated_track_id + "']").forEach(function (node) {
      if (event.action === "removed") {
        stopPlaying(node);
        if (node.dataset.fragmentUrl) node.remove();
        else node.textContent = "";
        return;
      }
      if (node.dataset.fragmentUrl) {
        refreshRow(node);
        return;
      }
      var notice = node.querySelector("[data-role=moderation-notice]");
      if (event.action === "unhidden") {
        if (notice) notice.remove();
        return;
      }
      if (!notice) {
        notice = document.createElement("p");
        notice.className = "notice";
        notice.setAttribute("role", "alert");
        notice.dataset.role = "moderation-notice";
        var head = node.querySelector(".page-head");
        node.insertBefore(notice, head ? head.nextSibling : node.firstChild);
      }
      notice.textContent = "The moderators hid this track: only you (and they) can see it." +
        (event.message ? " Their message to you: " + event.message : "");
    });
    showEmptyStates();
  }

  // A report the user sent was looked at.
  function onReportClosed(event) {
    toast(event.message, "done");
  }

  // Bands: a toast, then the lists on the page (parts marked data-live) are re-fetched and
  // swapped in, so a half-typed invitation is kept. A page that is gone for this user (removed
  // from the band shown) goes to the event's url.
  function refreshLiveParts(fallbackUrl) {
    var parts = document.querySelectorAll("[data-live]");
    if (!parts.length) return;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          if (fallbackUrl) window.location.href = fallbackUrl;
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (part) {
          var replacement = fresh.querySelector("[data-live='" + part.dataset.live + "']");
          if (replacement) part.replaceWith(document.importNode(replacement, true));
        });
      })
      .catch(function () { /* the page stays as it was */ });
  }

  function onBandEvent(event) {
    if (event.message) toast(event.message, event.type === "bands.removed" ? "failed" : "done");
    var page = document.querySelector("[data-band-id]");
    if (event.type === "bands.removed" && page && page.dataset.bandId === event.band_id) {
      window.location.href = event.url;
      return;
    }
    refreshLiveParts(event.url);
  }

  // An export (practice/) moved on: its line on the track page follows; a toast says when
  // it is ready or failed.
  // An export the player asked for joins the page's "Your exports" list (practice/).
  document.addEventListener("jam:render-requested", function (event) {
    var state = event.detail;
    var list = document.querySelector("[data-role=exports]");
    if (!list || list.querySelector("[data-render-id='" + state.id + "']")) return;
    var empty = list.querySelector("[data-role=no-exports]");
    if (empty) empty.remove();
    var item = document.createElement("li");
    item.dataset.renderId = state.id;
    item.dataset.status = state.status;
    var label = document.createElement("span");
    label.dataset.role = "render-status";
    label.textContent = state.status === "failed" ? "Failed: " + state.error : state.status_label;
    var link = document.createElement("a");
    link.dataset.role = "render-download";
    link.setAttribute("download", "");
    link.textContent = "Download";
    link.hidden = !state.download_url;
    if (state.download_url) link.href = state.download_url;
    var asked = document.createElement("span");
    asked.className = "meta";
    asked.dataset.role = "render-asked";
    asked.textContent = "(asked for just now)";
    item.append(state.label + " ", asked, " — ", label, " ", link);
    list.prepend(item);
  });

  function onRenderEvent(event) {
    document.dispatchEvent(new CustomEvent("jam:render", { detail: event }));
    var item = document.querySelector("[data-render-id='" + event.render_id + "']");
    var changed = !item || item.dataset.status !== event.status;
    if (item) {
      item.dataset.status = event.status;
      var label = item.querySelector("[data-role=render-status]");
      if (label) label.textContent = event.error ? "Failed: " + event.error : event.status_label;
      var link = item.querySelector("[data-role=render-download]");
      if (link && event.download_url) {
        link.href = event.download_url;
        link.hidden = false;
      }
    }
    if (event.message && changed) toast(event.message, event.status === "failed" ? "failed" : "done");
  }

  var handlers = {
    "practice.progress": onRenderEvent,
    "practice.done": onRenderEvent,
    "practice.failed": onRenderEvent,
    "separation.progress": onJobEvent,
    "separation.done": onJobEvent,
    "separation.failed": onJobEvent,
    "imports.progress": onJobEvent,
    "imports.done": onJobEvent,
    "imports.failed": onJobEvent,
    "tracks.created": onTrackCreated,
    "tracks.shared": onTrackShared,
    "tracks.changed": onTrackChanged,
    "tracks.revoked": onTrackRevoked,
    "tracks.moderated": onTrackModerated,
    "tracks.report_closed": onReportClosed,
    "bands.invited": onBandEvent,
    "bands.joined": onBandEvent,
    "bands.removed": onBandEvent
  };

  function applyEvent(event) {
    var handler = handlers[event.type];
    if (handler) handler(event);
  }

  // Close codes (notifications/consumers.py): after these the page stops reconnecting.
  var SESSION_ENDED = 4401;  // signed out (here or in another tab), a new password
  var ACCOUNT_SUSPENDED = 4403;
  var TOO_MANY_SOCKETS = 4429;  // the account's oldest page, past the per-user cap

  // Tracks that joined a live list while the socket was away (uploaded in another tab,
  // shared): the page is fetched again and the rows it lacks are added at the top; the
  // rows already here stay as they are.
  function addMissingRows() {
    var lists = document.querySelectorAll("[data-live-list]");
    if (!lists.length) return;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        lists.forEach(function (list) {
          var source = fresh.querySelector("[data-live-list='" + list.dataset.liveList + "']");
          if (!source) return;
          Array.prototype.slice.call(source.children).reverse().forEach(function (row) {
            if (list.querySelector("[data-track-id='" + row.dataset.trackId + "']")) return;
            list.insertBefore(document.importNode(row, true), list.firstChild);
            showEmptyStates();
          });
        });
      })
      .catch(function () { /* the page stays as it was */ });
  }

  // Events sent while the socket was away (a restart, a lost network) never come again:
  // after a reconnect, everything on the page that live events keep up to date is fetched
  // afresh — each track's row or panel, the rows live lists lack, and the bands' live lists.
  function resync() {
    document.querySelectorAll("[data-track-id]").forEach(function (node) {
      if (node.dataset.fragmentUrl) refreshRow(node);
      else if (node.dataset.panelUrl) refreshPanel(node);
    });
    addMissingRows();
    refreshLiveParts();
  }

  function connect(path, delay, reconnecting) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + path);
    socket.addEventListener("open", function () {
      document.body.dataset.socket = "open";  // live: what the browser tests wait on
      delay = 1000;
      if (reconnecting) resync();
    });
    var closing = null;  // the socket's last word: why it closes ("notifications.closed")
    socket.addEventListener("message", function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (err) { return; /* ignore malformed */ }
      if (event.type === "notifications.closed") closing = event;
      else applyEvent(event);
    });
    socket.addEventListener("close", function (closed) {
      document.body.dataset.socket = "closed";
      if (closed.code === SESSION_ENDED || closed.code === ACCOUNT_SUSPENDED) {
        // Signed out or suspended: stop listening; static/js/signedout.js says so and keeps
        // what was typed on the page.
        document.dispatchEvent(new CustomEvent("jam:signed-out", {
          detail: {
            why: closing ? closing.why : (closed.code === ACCOUNT_SUSPENDED ? "suspended" : "signed_out"),
            message: closing ? closing.message : ""
          }
        }));
        return;
      }
      if (closed.code === TOO_MANY_SOCKETS) {
        toast(closing ? closing.message : "Live updates stopped on this page: too many pages are open.", "failed");
        return;
      }
      setTimeout(function () { connect(path, Math.min(delay * 2, 30000), true); }, delay);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    noteRenderedStatuses();
    document.querySelectorAll("form[data-upload]").forEach(setUpUpload);
    // Delegated, so forms swapped in later (live band lists) ask too.
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (form.matches && form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
    var path = document.body.dataset.notifications;
    if (path && "WebSocket" in window) connect(path, 1000);
  });
})();

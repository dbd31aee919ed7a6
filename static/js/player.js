// JamWithMe practice player: one player for all the stems someone may hear (the markup lists
// only those: tracks/access.py decides). Web Audio: every stem is decoded once and fed, as the
// channels of ONE Signalsmith Stretch AudioWorklet node (npm: signalsmith-stretch), so the
// stems share one clock and start, stop, seek, loop and change tempo (50–150 %) and key
// (−6…+6 semitones) together, sample-accurately. The node's output is split back into the
// stems for the balance, mute and solo ("Render this mix" exports each stem at that level).
// The waveform (npm: wavesurfer.js) is drawn from the server's pre-computed peaks: nothing
// is decoded twice, and it shows before anything loads.
(function () {
  "use strict";

  var MIN_TEMPO = 50, MAX_TEMPO = 150, MIN_KEY = -6, MAX_KEY = 6;
  var START_MARGIN_S = 0.05;  // scheduling ahead of the audio thread: a clean start
  var SEEK_STEP_S = 5;
  var DEFAULT_BPM = 120;

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds || 0));
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }

  function Player(root) {
    this.root = root;
    this.duration = parseFloat(root.dataset.duration) || 0;
    this.sampleRate = parseInt(root.dataset.sampleRate, 10) || 44100;
    this.stems = Array.prototype.map.call(root.querySelectorAll("[data-stem]"), function (node) {
      return {
        name: node.dataset.stem,
        audioUrl: node.dataset.audio,
        peaksUrl: node.dataset.peaks || "",
        guide: node.hasAttribute("data-guide"),
        node: node,
        peaks: null,
        muted: false,
        solo: false,
        gain: null,   // GainNode, once loaded
        level: 1      // the balance's share for this stem
      };
    });
    this.byName = {};
    this.stems.forEach(function (stem) { this.byName[stem.name] = stem; }, this);
    this.tempo = 100;
    this.semitones = 0;
    this.balance = 0;
    this.loopA = null;
    this.loopB = null;
    this.countInBars = 0;
    this.bpm = DEFAULT_BPM;
    this.playing = false;
    this.anchor = { output: 0, input: 0, rate: 1 };  // position = input + (t - output) * rate
    this.paused = 0;  // the position while stopped
    this.ctx = null;
    this.stretch = null;
    this.loading = null;
    this.clicks = [];
    var balance = this.q("balance-row");
    if (balance) balance.hidden = !this.stems.some(function (stem) { return stem.guide; });
    this.bindControls();
    this.loadPeaks();
    this.setBalance(this.balance);
    this.render();
  }

  Player.prototype.q = function (role) { return this.root.querySelector("[data-role=" + role + "]"); };

  // --- The waveform of the playing mix --------------------------------------------------
  Player.prototype.loadPeaks = function () {
    var self = this;
    var box = this.q("wave");
    if (!box) return;
    Promise.all(this.stems.map(function (stem) {
      if (!stem.peaksUrl) return null;
      return fetch(stem.peaksUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          stem.peaks = data && data.peaks ? data.peaks[0] : null;
          if (data && data.tempo_bpm) self.setBpm(data.tempo_bpm);
        })
        .catch(function () { stem.peaks = null; });
    })).then(function () {
      if (!window.WaveSurfer) return;
      self.wave = window.WaveSurfer.create({
        container: box,
        height: box.clientHeight || 96,
        waveColor: "#8fa3c7",
        progressColor: "#2a4f9e",
        cursorColor: "#d2452b",
        cursorWidth: 2,
        normalize: true,
        interact: true,
        dragToSeek: true,
        peaks: [self.mixPeaks()],
        duration: self.duration || 1,
        cspNonce: styleNonce()
      });
      self.wave.on("interaction", function (time) { self.seek(time); });
      self.drawProgress();
    });
  };

  // The page's CSP nonce for wavesurfer's shadow-root <style> (templates/tracks/_player_assets.html).
  function styleNonce() {
    var meta = document.querySelector("meta[name=jam-style-nonce]");
    return meta ? meta.content : "";
  }

  // The mix's outline: each stem's column extremes, weighted by what is heard of it.
  Player.prototype.mixPeaks = function () {
    var heard = this.stems.filter(function (stem) { return stem.peaks; });
    if (!heard.length) return [0, 0];  // no peaks (an older track): a flat line, still seekable
    var length = heard[0].peaks.length;
    var mix = new Array(length).fill(0);
    heard.forEach(function (stem) {
      var level = this.heardLevel(stem);
      for (var i = 0; i < length; i++) mix[i] += level * (stem.peaks[i] || 0);
    }, this);
    return mix.map(function (value) { return clamp(value, -1, 1); });
  };

  Player.prototype.redrawWave = function () {
    if (this.wave) this.wave.setOptions({ peaks: [this.mixPeaks()], duration: this.duration || 1 });
    this.drawProgress();
  };

  // --- Audio: decode every stem once, one stretch node for all -------------------------
  Player.prototype.ensureAudio = function () {
    if (this.loading) return this.loading;
    var self = this;
    var Context = window.AudioContext || window.webkitAudioContext;
    this.ctx = new Context({ sampleRate: this.sampleRate, latencyHint: "interactive" });
    this.setStatus("Loading the stems…");
    this.loading = Promise.all(this.stems.map(function (stem) {
      return fetch(stem.audioUrl, { credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error("The " + stem.name + " could not be loaded (" + r.status + ").");
          return r.arrayBuffer();
        })
        .then(function (bytes) { return self.ctx.decodeAudioData(bytes); });
    })).then(function (buffers) {
      var frames = Math.max.apply(null, buffers.map(function (b) { return b.length; }));
      var channels = [];
      buffers.forEach(function (buffer) {
        for (var c = 0; c < 2; c++) {
          var data = new Float32Array(frames);
          data.set(buffer.getChannelData(Math.min(c, buffer.numberOfChannels - 1)));
          channels.push(data);
        }
      });
      self.duration = frames / self.ctx.sampleRate;
      // The worklet loads the library's own file, which registers its processor when run
      // in a worklet, instead of a blob: URL built in the page (the CSP allows no blob:).
      var library = document.getElementById("signalsmith-stretch");
      if (library) window.SignalsmithStretch.moduleUrl = library.src;
      // One input, left unconnected: the node plays its buffers. (With no input at all,
      // Chromium never runs a live context's worklet.)
      return window.SignalsmithStretch(self.ctx, {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [channels.length]
      }).then(function (node) {
        self.stretch = node;
        var split = self.ctx.createChannelSplitter(channels.length);
        node.connect(split);
        self.master = self.ctx.createGain();
        self.master.connect(self.ctx.destination);
        self.stems.forEach(function (stem, index) {
          var pair = self.ctx.createChannelMerger(2);
          split.connect(pair, 2 * index, 0);
          split.connect(pair, 2 * index + 1, 1);
          stem.gain = self.ctx.createGain();
          pair.connect(stem.gain);
          stem.gain.connect(self.master);
        });
        self.applyGains();
        return node.addBuffers(channels);
      }).then(function () {
        return self.stretch.latency();
      }).then(function (latency) {
        self.latency = latency;
        self.setStatus("");
      });
    }).catch(function (error) {
      self.setStatus(error.message || "The player could not start.");
      self.loading = null;
      throw error;
    });
    return this.loading;
  };

  // --- Position: one clock for all stems -----------------------------------------------
  Player.prototype.loopOn = function () {
    return this.loopA !== null && this.loopB !== null && this.loopB - this.loopA > 0.05;
  };

  Player.prototype.positionAt = function (time) {
    if (!this.playing) return this.paused;
    var p = this.anchor.input + Math.max(0, time - this.anchor.output) * this.anchor.rate;
    if (this.loopOn() && p >= this.loopB) {
      p = this.loopA + ((p - this.loopA) % (this.loopB - this.loopA));
    }
    return p;
  };

  Player.prototype.position = function () {
    return this.positionAt(this.ctx ? this.ctx.currentTime : 0);
  };

  // Tell the node what to play from `output` (context time) on: every field, every time.
  Player.prototype.schedule = function (output, input, active) {
    this.anchor = { output: output, input: input, rate: this.tempo / 100 };
    var loop = this.loopOn();
    this.stretch.schedule({
      outputTime: output,
      input: input,
      active: active,
      rate: this.tempo / 100,
      semitones: this.semitones,
      loopStart: loop ? this.loopA : 0,
      loopEnd: loop ? this.loopB : 0
    });
  };

  Player.prototype.play = function () {
    var self = this;
    if (this.playing) return Promise.resolve();
    this.wantPlay = true;
    return this.ensureAudio().then(function () {
      if (!self.wantPlay || self.playing) return;
      return self.ctx.resume().then(function () {
        if (self.paused >= self.duration - 0.05) self.paused = 0;
        var start = self.ctx.currentTime + (self.latency || 0) + START_MARGIN_S;
        start = self.scheduleCountIn(start);
        self.playing = true;
        self.schedule(start, self.paused, true);
        self.render();
        self.tick();
      });
    });
  };

  Player.prototype.pause = function () {
    this.wantPlay = false;
    if (!this.playing) return;
    this.paused = clamp(this.position(), 0, this.duration);
    this.playing = false;
    this.stretch.schedule({ outputTime: this.ctx.currentTime, active: false, input: this.paused });
    this.cancelClicks();
    this.render();
  };

  Player.prototype.toggle = function () { return this.playing ? this.pause() : this.play(); };

  Player.prototype.seek = function (seconds) {
    seconds = clamp(seconds, 0, Math.max(0, this.duration - 0.01));
    if (this.playing) {
      this.cancelClicks();
      this.schedule(this.ctx.currentTime, seconds, true);
    } else {
      this.paused = seconds;
    }
    this.drawProgress();
  };

  // A live change of tempo, key or loop: the position carries on from where it is.
  Player.prototype.reschedule = function () {
    if (!this.playing || !this.stretch) return;
    var now = this.ctx.currentTime;
    if (now < this.anchor.output) {  // still in the count-in: keep its start
      this.schedule(this.anchor.output, this.anchor.input, true);
      return;
    }
    this.schedule(now, this.positionAt(now), true);
  };

  Player.prototype.setTempo = function (percent) {
    this.tempo = clamp(Math.round(percent), MIN_TEMPO, MAX_TEMPO);
    this.reschedule();
    this.render();
  };

  Player.prototype.setKey = function (semitones) {
    this.semitones = clamp(Math.round(semitones), MIN_KEY, MAX_KEY);
    this.reschedule();
    this.render();
  };

  Player.prototype.setLoop = function (which, seconds) {
    if (which === "a") this.loopA = seconds;
    if (which === "b") this.loopB = seconds;
    if (which === "clear") this.loopA = this.loopB = null;
    if (this.loopA !== null && this.loopB !== null && this.loopB < this.loopA) {
      var swap = this.loopA; this.loopA = this.loopB; this.loopB = swap;
    }
    this.reschedule();
    this.render();
  };

  // --- Balance, mute, solo -------------------------------------------------------------
  // 0: the instrumental only; 100: the full original (instrumental and vocals).
  Player.prototype.setBalance = function (percent) {
    this.balance = clamp(percent, 0, 100);
    this.stems.forEach(function (stem) {
      stem.level = stem.guide ? this.balance / 100 : 1;
    }, this);
    this.applyGains();
    this.render();
    this.redrawWave();
  };

  Player.prototype.heardLevel = function (stem) {
    var soloing = this.stems.some(function (s) { return s.solo; });
    if (stem.muted || (soloing && !stem.solo)) return 0;
    return stem.solo ? 1 : stem.level;  // a soloed stem is heard in full
  };

  Player.prototype.applyGains = function () {
    this.stems.forEach(function (stem) {
      if (stem.gain) stem.gain.gain.setTargetAtTime(this.heardLevel(stem), this.ctx.currentTime, 0.01);
    }, this);
  };

  Player.prototype.toggleStem = function (name, what) {
    var stem = this.byName[name];
    if (!stem) return;
    stem[what] = !stem[what];
    this.applyGains();
    this.render();
    this.redrawWave();
  };

  // --- Count-in: clicks at the song's tempo (scaled by the tempo control) --------------
  Player.prototype.setBpm = function (bpm) {
    bpm = parseFloat(bpm);
    if (!(bpm >= 30 && bpm <= 300)) return;
    this.bpm = Math.round(bpm * 10) / 10;
    var input = this.q("bpm");
    if (input && document.activeElement !== input) input.value = this.bpm;
  };

  Player.prototype.scheduleCountIn = function (start) {
    if (!this.countInBars) return start;
    var beat = 60 / (this.bpm * this.tempo / 100);
    var beats = this.countInBars * 4;
    this.countInFrom = start; // on the audio clock: the first click
    for (var i = 0; i < beats; i++) {
      var at = start + i * beat;
      var osc = this.ctx.createOscillator();
      var env = this.ctx.createGain();
      osc.frequency.value = i % 4 === 0 ? 1760 : 1320;
      env.gain.setValueAtTime(0.0001, at);
      env.gain.exponentialRampToValueAtTime(0.5, at + 0.002);
      env.gain.exponentialRampToValueAtTime(0.0001, at + 0.06);
      osc.connect(env);
      env.connect(this.ctx.destination);
      osc.start(at);
      osc.stop(at + 0.08);
      this.clicks.push(osc);
    }
    return start + beats * beat;
  };

  Player.prototype.cancelClicks = function () {
    this.clicks.forEach(function (osc) { try { osc.stop(); } catch (e) { /* already stopped */ } });
    this.clicks = [];
  };

  // --- Showing it ----------------------------------------------------------------------
  Player.prototype.setStatus = function (text) {
    var status = this.q("player-status");
    if (status) status.textContent = text;
  };

  Player.prototype.drawProgress = function () {
    var position = this.position();
    var time = this.q("time");
    if (time) time.textContent = clock(position);
    var wave = this.q("wave");
    if (wave) {
      wave.setAttribute("aria-valuenow", Math.round(position));
      wave.setAttribute("aria-valuetext", clock(position) + " of " + clock(this.duration));
    }
    if (this.wave && this.duration) this.wave.setTime(clamp(position, 0, this.duration));
    var region = this.q("loop-region");
    if (region) {
      var on = this.loopOn() && this.duration;
      region.hidden = !on;
      if (on) {
        region.style.left = (100 * this.loopA / this.duration) + "%";
        region.style.width = (100 * (this.loopB - this.loopA) / this.duration) + "%";
      }
    }
  };

  Player.prototype.tick = function () {
    var self = this;
    if (!this.playing) return;
    if (!this.loopOn() && this.position() >= this.duration) {
      this.pause();
      this.paused = 0;
      this.drawProgress();
      return;
    }
    this.drawProgress();
    window.requestAnimationFrame(function () { self.tick(); });
  };

  Player.prototype.render = function () {
    var play = this.q("play");
    if (play) {
      play.setAttribute("aria-pressed", String(this.playing));
      play.setAttribute("aria-label", this.playing ? "Pause" : "Play");
      play.textContent = this.playing ? "❚❚" : "▶";
    }
    var length = this.q("length");
    if (length && this.duration) length.textContent = clock(this.duration);
    var out = {
      "tempo-value": this.tempo + " %",
      "key-value": (this.semitones > 0 ? "+" : this.semitones < 0 ? "−" : "±") + Math.abs(this.semitones),
      "balance-value": this.balance + " %",
      "loop-value": this.loopOn() ? clock(this.loopA) + "–" + clock(this.loopB)
        : this.loopA !== null ? "A " + clock(this.loopA) : "off"
    };
    Object.keys(out).forEach(function (role) {
      var node = this.q(role);
      if (node) node.textContent = out[role];
    }, this);
    var inputs = { tempo: this.tempo, key: this.semitones, balance: this.balance };
    Object.keys(inputs).forEach(function (role) {
      var input = this.q(role);
      if (input && String(input.value) !== String(inputs[role])) input.value = inputs[role];
    }, this);
    this.stems.forEach(function (stem) {
      var mute = stem.node.querySelector("[data-action=mute]");
      var solo = stem.node.querySelector("[data-action=solo]");
      if (mute) mute.setAttribute("aria-pressed", String(stem.muted));
      if (solo) solo.setAttribute("aria-pressed", String(stem.solo));
    });
    this.drawProgress();
  };

  // --- Controls and keys ---------------------------------------------------------------
  Player.prototype.bindControls = function () {
    var self = this;
    this.root.addEventListener("click", function (event) {
      var button = event.target.closest("[data-action]");
      if (!button || !self.root.contains(button)) return;
      var action = button.dataset.action;
      var stem = button.closest("[data-stem]");
      if (action === "play") self.toggle();
      else if (action === "back") self.seek(self.position() - SEEK_STEP_S);
      else if (action === "forward") self.seek(self.position() + SEEK_STEP_S);
      else if (action === "loop-a") self.setLoop("a", self.position());
      else if (action === "loop-b") self.setLoop("b", self.position());
      else if (action === "loop-clear") self.setLoop("clear");
      else if (action === "export") self.exportMix();
      else if ((action === "mute" || action === "solo") && stem) {
        self.toggleStem(stem.dataset.stem, action === "mute" ? "muted" : "solo");
      }
    });
    this.root.addEventListener("input", function (event) {
      var role = event.target.dataset.role;
      if (role === "tempo") self.setTempo(parseFloat(event.target.value));
      else if (role === "key") self.setKey(parseFloat(event.target.value));
      else if (role === "balance") self.setBalance(parseFloat(event.target.value));
    });
    this.root.addEventListener("change", function (event) {
      var role = event.target.dataset.role;
      if (role === "count-in") self.countInBars = parseInt(event.target.value, 10) || 0;
      else if (role === "bpm") self.setBpm(event.target.value);
    });
    this.root.addEventListener("keydown", function (event) { self.onKey(event); });
  };

  // Keys work anywhere in the player (and on the track page, see below) except in text
  // fields; range inputs keep their own arrow keys.
  Player.prototype.onKey = function (event) {
    var target = event.target;
    var tag = target.tagName;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (tag === "INPUT" && target.type !== "range") return;
    if (tag === "SELECT" || tag === "TEXTAREA") return;
    var onRange = tag === "INPUT" && target.type === "range";
    var handled = true;
    switch (event.key) {
      case " ":
        if (tag === "BUTTON") { handled = false; break; }  // a button's own space press
        this.toggle();
        break;
      case "ArrowLeft":
        if (onRange) { handled = false; break; }
        this.seek(this.position() - SEEK_STEP_S);
        break;
      case "ArrowRight":
        if (onRange) { handled = false; break; }
        this.seek(this.position() + SEEK_STEP_S);
        break;
      case "[": this.setLoop("a", this.position()); break;
      case "]": this.setLoop("b", this.position()); break;
      case "-": this.setTempo(this.tempo - 5); break;
      case "+": case "=": this.setTempo(this.tempo + 5); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  };

  // --- Export: the server renders exactly what plays (practice/ : Rubber Band) ----------
  // Each stem at the level it is heard (the balance, mute and solo: heardLevel), 0..1, as
  // `gain_<stem>`; a stem this page does not play (not shared) is not sent, and the server
  // leaves it out. The same settings again are the same file (the server's cache).
  Player.prototype.exportSettings = function () {
    var settings = { source: "mix" };
    this.stems.forEach(function (stem) {
      settings["gain_" + stem.name] = this.heardLevel(stem).toFixed(2);
    }, this);
    settings.tempo = (this.tempo / 100).toFixed(2);
    settings.semitones = String(this.semitones);
    return settings;
  };

  Player.prototype.exportMix = function () {
    var self = this;
    var slot = this.q("export-slot");
    if (!slot) return;
    var settings = this.exportSettings();
    var format = this.q("export-format");
    // The formats are the server's (catalog/formats.py, in the template); none: its default.
    settings.format = format ? format.value : "";
    var body = new FormData();
    Object.keys(settings).forEach(function (name) { body.append(name, settings[name]); });
    var token = slot.querySelector("input[name=csrfmiddlewaretoken]");
    this.showExport({ status: "queued", status_label: "Asking for the export…" });
    fetch(slot.dataset.exportUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token ? token.value : "" }
    }).then(function (response) {
      return response.json().then(function (state) {
        if (!response.ok) throw new Error(state.error || "The export could not be made.");
        return state;
      });
    }).then(function (state) {
      self.exportId = state.id;
      self.showExport(state);
      document.dispatchEvent(new CustomEvent("jam:render-requested", { detail: state }));
    }).catch(function (error) {
      self.showExport({ status: "failed", error: error.message });
    });
  };

  // A render's state, from the request's answer or from its live events (app.js).
  Player.prototype.showExport = function (state) {
    var label = this.q("export-status"), link = this.q("export-download");
    if (label) {
      label.textContent = state.status === "failed" ? "Failed: " + (state.error || "")
        : state.status === "done" ? "Ready: " + (state.label || "")
        : state.status_label;
    }
    if (link) {
      link.hidden = !state.download_url;
      if (state.download_url) link.href = state.download_url;
    }
  };

  document.addEventListener("jam:render", function (event) {
    document.querySelectorAll("[data-player]").forEach(function (root) {
      var player = root.jamPlayer;
      if (player && player.exportId === event.detail.render_id) player.showExport(event.detail);
    });
  });

  Player.prototype.destroy = function () {
    this.wantPlay = false;
    this.playing = false;
    this.cancelClicks();
    if (this.ctx) this.ctx.close();
    if (this.wave) this.wave.destroy();
    this.root.jamPlayer = null;
  };

  // --- Wiring ---------------------------------------------------------------------------
  function setUp(root) {
    if (root.jamPlayer) return root.jamPlayer;
    root.jamPlayer = new Player(root);
    return root.jamPlayer;
  }

  // The track page's panel got a player with other stems (the separation finished, the
  // owner allowed the vocals): the new one takes over, playing on from the same place.
  function replace(oldRoot, newRoot) {
    var old = oldRoot && oldRoot.jamPlayer;
    oldRoot.replaceWith(newRoot);
    var fresh = setUp(newRoot);
    if (!old) return fresh;
    fresh.paused = old.position();
    fresh.tempo = old.tempo;
    fresh.semitones = old.semitones;
    fresh.loopA = old.loopA;
    fresh.loopB = old.loopB;
    fresh.render();
    var wasPlaying = old.playing || old.wantPlay;
    if (!wasPlaying) {
      old.destroy();
      return fresh;
    }
    fresh.ensureAudio().then(function () {
      fresh.paused = old.position();
      old.destroy();
      return fresh.play();
    }).catch(function () { old.destroy(); });
    return fresh;
  }

  // Page-wide keys go to the page's only full player (the track page), if there is one.
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented) return;
    var target = event.target;
    if (target !== document.body && target !== document.documentElement) return;
    var players = document.querySelectorAll("[data-player]:not(.player-compact)");
    if (players.length === 1 && players[0].jamPlayer) players[0].jamPlayer.onKey(event);
  });

  function scan(node) {
    if (!node.querySelectorAll) return;
    if (node.matches && node.matches("[data-player]")) setUp(node);
    node.querySelectorAll("[data-player]").forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", function () {
    scan(document.body);
    // Rows and panels swapped in later (live updates) bring their own players.
    new MutationObserver(function (records) {
      records.forEach(function (record) { record.addedNodes.forEach(scan); });
    }).observe(document.body, { childList: true, subtree: true });
  });

  window.JamPlayer = { setUp: setUp, replace: replace, Player: Player };
})();

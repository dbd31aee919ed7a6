// The player's "Render this mix" asks for exactly what plays: each stem at the level the
// player gives it (balance, mute, solo), plus tempo and key. static/js/player.js is a classic
// browser script: it runs here in a context with the few globals it touches when loaded, and
// its Player is driven through the same methods its controls call.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import vm from "node:vm";

const source = readFileSync(new URL("../../static/js/player.js", import.meta.url), "utf8");

function loadPlayer() {
  const context = { window: {}, document: { addEventListener() {} } };
  vm.runInNewContext(source, context, { filename: "player.js" });
  return context.window.JamPlayer.Player;
}

// The markup's stems (templates/tracks/_player.html): `guide` is the balance's stem.
function fakeRoot(stems) {
  const nodes = stems.map(({ name, guide }) => ({
    dataset: { stem: name, audio: `/audio/${name}` },
    hasAttribute: (attribute) => attribute === "data-guide" && Boolean(guide),
    querySelector: () => null,
  }));
  return {
    dataset: { duration: "4", sampleRate: "44100" },
    querySelector: () => null,
    querySelectorAll: () => nodes,
    addEventListener() {},
  };
}

const BOTH = [{ name: "instrumental" }, { name: "vocals", guide: true }];

function heard(player) {
  return Object.fromEntries(player.stems.map((stem) => [stem.name, player.heardLevel(stem)]));
}

function sentGains(settings) {
  return Object.fromEntries(
    Object.entries(settings)
      .filter(([field]) => field.startsWith("gain_"))
      .map(([field, value]) => [field.slice("gain_".length), Number(value)]),
  );
}

test("it sends every stem at its level with the balance, and the tempo and key", () => {
  const Player = loadPlayer();
  const player = new Player(fakeRoot(BOTH));
  player.setBalance(10);
  player.setTempo(75);
  player.setKey(-2);
  assert.deepEqual({ ...player.exportSettings() }, {
    source: "mix",
    gain_instrumental: "1.00",
    gain_vocals: "0.10",
    tempo: "0.75",
    semitones: "-2",
  });
});

test("a muted stem is sent at 0, as it is heard", () => {
  const Player = loadPlayer();
  const player = new Player(fakeRoot(BOTH));
  player.setBalance(40);
  player.toggleStem("instrumental", "muted");
  const settings = player.exportSettings();
  assert.deepEqual(sentGains(settings), { instrumental: 0, vocals: 0.4 });
  assert.deepEqual(sentGains(settings), heard(player));
});

test("a soloed stem is sent in full and the others at 0", () => {
  const Player = loadPlayer();
  const player = new Player(fakeRoot(BOTH));
  player.setBalance(10);
  player.toggleStem("vocals", "solo");
  const settings = player.exportSettings();
  assert.deepEqual(sentGains(settings), { instrumental: 0, vocals: 1 });
  assert.deepEqual(sentGains(settings), heard(player));
  assert.equal(settings.balance, undefined);  // the gains alone say the mix
});

test("a jam listener's player sends only the jam track it plays", () => {
  const Player = loadPlayer();
  const player = new Player(fakeRoot([{ name: "instrumental" }]));
  player.setBalance(50);  // no guide stem: the balance moves nothing
  assert.deepEqual(sentGains(player.exportSettings()), { instrumental: 1 });
});

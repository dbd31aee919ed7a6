"""The practice player in the real Chromium against the real embedded stack (`manage.py
serve`, the real model): upload a dev clip, wait for its stems, play them as one, and check
by listening in on each stem's output (an AnalyserNode after its gain) that the stems stay
together after seeks and tempo and key changes; the balance, the loop, the keys; then the
browser's time-stretcher itself, measured on OfflineAudioContext renders of a test tone.
Screenshots (desktop and a 390x844 phone) go to $JAM_SCREENSHOTS."""

import io
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.browsing import CHROMIUM_ARGS, PASSWORD, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.model]
CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"
PLAYER = "document.querySelector('[data-player]').jamPlayer"
SYNC_TOLERANCE_S = 0.010
# A match of a stem's output to its source this good or better is sure (lower ones were
# seen off by up to 18 ms: the stretcher's output is not its input).
SURE = 0.6


@pytest.fixture
def song(tmp_path):
    """The 16 s dev clip three times over: room to seek, loop and change tempo on a slow,
    busy machine without running off the end."""
    audio, rate = sf.read(CLIP, dtype="float32")
    path = tmp_path / "Loops and vocadito.flac"
    sf.write(path, np.concatenate([audio] * 3), rate)
    return path


@pytest.fixture
def account(server, tmp_path):
    """erin, made in the database the server uses."""
    code = (
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user('erin', 'erin@example.com', {PASSWORD!r})"
    )
    env = {**os.environ, "JAM_VAR_DIR": str(tmp_path / "var"), "DEBUG": "false"}
    env.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True
    )


def log_in(browser, server, **context):
    page = browser.new_context(**context).new_page()
    page.goto(f"{server}/accounts/login/")
    page.fill("#id_username", "erin")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    return page


# Each stem's output, listened to after its own gain: the last 32768 frames of both, taken in
# the same task (so from the same render quantum), with the player's idea of the position.
# The look waits, in the page and on the audio clock, until the taps hold only what it wants:
# `settled` seconds of output since the player was last told where to play (a seek, a tempo
# or key change), in a loop a whole window after the last wrap, and the context time past
# `after` (looks apart on the audio clock, not the test's).
LISTEN = """async ({settled, after}) => {
  const p = PLAYER_EXPR;
  if (!p.taps) {
    p.taps = {};
    p.stems.forEach(s => { const a = p.ctx.createAnalyser(); a.fftSize = 32768;
                           s.gain.connect(a); p.taps[s.name] = a; });
  }
  const windowS = Object.values(p.taps)[0].fftSize / p.ctx.sampleRate;
  const ready = () => p.ctx.currentTime >= after
    && p.ctx.currentTime - p.anchor.output >= settled
    && (!p.loopOn() || p.position() - p.loopA >= (windowS + 0.02) * p.anchor.rate);
  while (!ready()) await new Promise(done => setTimeout(done, 5));
  const out = {position: p.position(), rate: p.ctx.sampleRate, time: p.ctx.currentTime};
  Object.entries(p.taps).forEach(([name, tap]) => {
    const data = new Float32Array(tap.fftSize); tap.getFloatTimeDomainData(data);
    out[name] = Array.from(data);
  });
  return out;
}""".replace("PLAYER_EXPR", PLAYER)
# After a seek: the taps (0.74 s) hold only what played since, with room to spare.
AFTER_SEEK_S = 1.2


def listen(page, *, settled: float = 0.0, after: float = 0.0) -> dict:
    return page.evaluate(LISTEN, {"settled": settled, "after": after})


# Positions every few milliseconds in the page until the loop has wrapped round once.
UNTIL_A_WRAP = """async () => {
  const p = PLAYER_EXPR, positions = [p.position()];
  const until = p.ctx.currentTime + 20;
  while (p.ctx.currentTime < until) {
    await new Promise(done => setTimeout(done, 20));
    positions.push(p.position());
    if (positions.at(-1) < positions.at(-2) - 1) return positions;
  }
  return positions;
}""".replace("PLAYER_EXPR", PLAYER)


def where_in(source: np.ndarray, heard: np.ndarray, around: float, rate: int):
    """Where in `source` (mono) the window `heard` ends, searched ±0.4 s around `around`
    seconds: the lag of the best normalised cross-correlation, and that correlation."""
    n = len(heard)
    centre = round(around * rate) - n
    lo, hi = max(centre - int(0.4 * rate), 0), min(centre + int(0.4 * rate), len(source) - n)
    segment = source[lo : hi + n]
    size = 1 << int(np.ceil(np.log2(len(segment) + n)))
    corr = np.fft.irfft(np.fft.rfft(segment, size) * np.conj(np.fft.rfft(heard, size)), size)
    corr = corr[: hi - lo + 1]
    energy = np.convolve(segment**2, np.ones(n), mode="valid")[: hi - lo + 1]
    score = corr / (np.sqrt(energy * np.sum(heard**2)) + 1e-12)
    best = int(np.argmax(score))
    return (lo + best + n) / rate, float(score[best])


def stems_of(page, server):
    out = {}
    for name in ("instrumental", "vocals"):
        url = page.get_attribute(f"[data-stem={name}]", "data-audio")
        body = page.request.get(f"{server}{url}").body()
        audio, rate = sf.read(io.BytesIO(body), dtype="float32", always_2d=True)
        out[name] = audio.mean(axis=1)
    return out, rate


def check_in_sync(page, stems, rate, label, looks: int = 5, loop=None, seek_to=None):
    """Where each stem's output is in its source, `looks` times 0.25 s apart on the audio
    clock. Matching a stretched output to its source is itself off by a few milliseconds now
    and then (a phase vocoder's output is not its input), so the median of the looks is held
    to the tolerance; every look is printed. Only looks where each stem's window matched its
    source (normalised correlation of SURE or more) count. In a `loop` (A, B) each look is
    taken when its window (0.74 s) lies after the last wrap (one across a wrap holds two
    places of the song): `listen` waits for that. `seek_to`: each look comes 1.2 s of output
    after a seek there, so the looks neither run off the end of the song nor share a seek."""
    gaps = []
    tries = looks * 6  # for the looks that do not match for sure; none is skipped otherwise
    after = 0.0
    for _ in range(tries):
        if len(gaps) == looks:
            break
        settled = 0.0
        if seek_to is not None:
            page.evaluate(f"() => {PLAYER}.seek({seek_to})")
            settled = AFTER_SEEK_S
        heard = listen(page, settled=settled, after=after)
        after = heard["time"] + 0.25
        assert heard["rate"] == rate
        window_s = len(heard["instrumental"]) / rate
        if loop:  # the window lies after the last wrap
            assert loop[0] + window_s + 0.02 <= heard["position"] <= loop[1] + 0.01, label
        found = {}
        for name in ("instrumental", "vocals"):
            window = np.asarray(heard[name], dtype=np.float32)
            found[name] = where_in(stems[name], window, heard["position"], rate)
        gap = abs(found["instrumental"][0] - found["vocals"][0])
        print(
            f"{label}: player at {heard['position']:.3f} s; heard instrumental at "
            f"{found['instrumental'][0]:.4f} s (corr {found['instrumental'][1]:.2f}), vocals "
            f"at {found['vocals'][0]:.4f} s (corr {found['vocals'][1]:.2f}): "
            f"apart {gap * 1000:.2f} ms"
        )
        # A look counts when both windows were found for sure in their own stem.
        if min(score for _, score in found.values()) < SURE:
            continue
        for _, (at, _) in found.items():
            assert abs(at - heard["position"]) < 0.1, (label, at, heard["position"])
        gaps.append(gap)
    assert len(gaps) == looks, f"{label}: only {len(gaps)} sure looks of {tries}"
    median = float(np.median(gaps))
    assert median <= SYNC_TOLERANCE_S, f"{label}: stems {median * 1000:.1f} ms apart (median)"
    return heard


# The player's position 1 s before the song is due after its count-in, and 0.5 s after, each
# read once the audio clock is there (with the clock and the moment due, to show it).
COUNT_IN_POSITIONS = """async () => {
  const p = PLAYER_EXPR, due = p.anchor.output;
  const at = async (time) => {
    while (p.ctx.currentTime < time) await new Promise(done => setTimeout(done, 5));
    return {position: p.position(), time: p.ctx.currentTime, due};
  };
  return [await at(due - 1.0), await at(due + 0.5)];
}"""


def rms(values) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


def test_a_musician_practises_with_the_stems_played_as_one(
    chromium_path, server, account, song, screenshots
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = log_in(browser, server, viewport={"width": 1100, "height": 900})
            page.goto(f"{server}/tracks/upload/")
            page.set_input_files("#id_file", str(song))
            page.fill("#id_title", "Loops and vocadito")
            page.click("form[data-upload] button[type=submit]")
            page.wait_for_url("**/tracks/*-*-*-*-*/", timeout=60_000)
            track_url = page.url
            player = "[data-player][data-parts='instrumental vocals']"
            page.wait_for_selector(player, timeout=180_000)
            page.goto(track_url)  # as someone opening a finished track
            page.wait_for_function(f"() => {PLAYER} && {PLAYER}.wave")
            # Before play: the length, the waveform from the peaks, the estimated tempo.
            assert page.inner_text(f"{player} [data-role=length]") == "0:48"
            assert page.input_value(f"{player} [data-role=bpm]") == "120"  # the loops' tempo
            page.screenshot(path=screenshots / "player-1-desktop-before-play.png", full_page=True)

            page.click(f"{player} [data-action=play]")
            page.wait_for_function(
                f"() => {PLAYER}.playing && {PLAYER}.position() > 1", timeout=60_000
            )
            page.fill(f"{player} [data-role=balance]", "100")  # the full original
            page.dispatch_event(f"{player} [data-role=balance]", "input")
            stems, rate = stems_of(page, server)
            listen(page)  # the taps go in now

            check_in_sync(page, stems, rate, "after a seek to 6 s", seek_to=6.0)

            for tempo in ("75", "130", "50", "150"):
                page.fill(f"{player} [data-role=tempo]", tempo)
                page.dispatch_event(f"{player} [data-role=tempo]", "input")
                page.wait_for_timeout(600)
            page.evaluate(f"() => {PLAYER}.seek(2.5)")
            page.fill(f"{player} [data-role=key]", "-2")
            page.dispatch_event(f"{player} [data-role=key]", "input")
            page.wait_for_timeout(600)
            assert (
                page.inner_text(f"{player} [data-role=key-value]") == "\u22122"
            )  # a real minus sign
            page.fill(f"{player} [data-role=key]", "0")
            page.dispatch_event(f"{player} [data-role=key]", "input")
            page.fill(f"{player} [data-role=tempo]", "100")
            page.dispatch_event(f"{player} [data-role=tempo]", "input")
            check_in_sync(
                page, stems, rate, "after tempo 75/130/50/150 %, key -2, seeks", seek_to=20.0
            )

            # The balance: at 0 the singer is gone, at 10 % a faint guide at a tenth of the
            # vocals' level. Heard after a seek to 6 s, where the singer sings (anywhere else
            # a pause in the song could pass for silence), against the vocal stem's level at
            # the player's position.
            for level in (0, 10):
                page.fill(f"{player} [data-role=balance]", str(level))
                page.dispatch_event(f"{player} [data-role=balance]", "input")
                page.evaluate(f"() => {PLAYER}.seek(6.0)")
                heard = listen(page, settled=AFTER_SEEK_S)
                window = np.asarray(heard["instrumental"], dtype=np.float32)
                end = round(heard["position"] * rate)  # the stems are heard there (above)
                sung = rms(stems["vocals"][end - len(window) : end])
                vocal, instrumental = rms(heard["vocals"]), rms(window)
                print(
                    f"balance {level} %: at {heard['position']:.3f} s, vocals RMS {vocal:.5f} "
                    f"of the stem's {sung:.4f}, instrumental {instrumental:.4f}"
                )
                assert instrumental > 0.01 and sung > 0.01
                share = vocal / sung
                assert share < 0.001 if level == 0 else 0.07 < share < 0.14, share

            # A loop from 2 s to 4 s with the keys, heard wrapping round.
            page.focus(f"{player} [data-role=wave]")
            page.evaluate(f"() => {PLAYER}.seek(2.0)")
            page.keyboard.press("[")
            page.evaluate(f"() => {PLAYER}.seek(4.0)")
            page.keyboard.press("]")
            loop = page.evaluate(f"() => [{PLAYER}.loopA, {PLAYER}.loopB]")
            assert loop[0] == pytest.approx(2.0, abs=0.1) and loop[1] == pytest.approx(4.0, abs=0.1)
            page.evaluate(f"() => {PLAYER}.seek(3.0)")
            positions = page.evaluate(UNTIL_A_WRAP)
            print("loop positions:", " ".join(f"{p:.2f}" for p in positions))
            assert all(loop[0] - 0.01 <= p <= loop[1] + 0.01 for p in positions)
            wraps = sum(1 for a, b in itertools.pairwise(positions) if b < a - 1)
            assert wraps >= 1
            heard = check_in_sync(page, stems, rate, "inside the loop", loop=loop)
            assert loop[0] - 0.05 <= heard["position"] <= loop[1] + 0.05
            page.screenshot(path=screenshots / "player-2-desktop-looping.png", full_page=True)

            # Download exactly what plays: the singer at 10 %, 70 % tempo, a tone down, looped.
            page.fill(f"{player} [data-role=balance]", "10")
            page.dispatch_event(f"{player} [data-role=balance]", "input")
            page.fill(f"{player} [data-role=tempo]", "70")
            page.dispatch_event(f"{player} [data-role=tempo]", "input")
            page.fill(f"{player} [data-role=key]", "-2")
            page.dispatch_event(f"{player} [data-role=key]", "input")
            page.select_option(f"{player} [data-role=export-format]", "mp3")
            page.click(f"{player} [data-action=export]")
            ready = f"{player} [data-role=export-download]:not([hidden])"
            page.wait_for_selector(ready, timeout=240_000)
            status = page.inner_text(f"{player} [data-role=export-status]")
            print("export:", status)
            assert status == "Ready: Mix, vocals 10 %, tempo 70 %, -2 semitones, MP3"
            assert page.is_visible("[data-role=exports] [data-render-id]")  # in "Your exports"
            page.screenshot(path=screenshots / "player-5-desktop-exported.png", full_page=True)
            with page.expect_download() as download:
                page.click(ready)
            exported = download.value.path()
            info = sf.info(str(exported))
            print(f"exported: {info.format}, {info.duration:.2f} s (wanted {48 / 0.7:.2f} s)")
            assert info.format == "MP3"
            assert info.duration == pytest.approx(48 / 0.7, rel=0.01)
            # The same settings again: the same file at once (the server's cache).
            page.click(f"{player} [data-action=export]")
            page.wait_for_function(
                "() => document.querySelector('[data-role=export-status]').textContent"
                ".startsWith('Ready')",
                timeout=10_000,
            )
            for role, value in (("balance", "0"), ("tempo", "100"), ("key", "0")):
                page.fill(f"{player} [data-role={role}]", value)
                page.dispatch_event(f"{player} [data-role={role}]", "input")

            # The keys: - and + change the tempo, space pauses.
            page.keyboard.press("-")
            assert page.inner_text(f"{player} [data-role=tempo-value]") == "95 %"
            page.keyboard.press("+")
            assert page.inner_text(f"{player} [data-role=tempo-value]") == "100 %"
            page.keyboard.press(" ")
            assert page.evaluate(f"() => {PLAYER}.playing") is False

            # A one-bar count-in at the (corrected) song tempo: four clicks, then the song.
            page.click(f"{player} [data-action=loop-clear]")
            page.select_option(f"{player} [data-role=count-in]", "1")
            page.fill(f"{player} [data-role=bpm]", "96")
            page.dispatch_event(f"{player} [data-role=bpm]", "change")
            held = page.evaluate(f"() => {PLAYER}.position()")
            page.click(f"{player} [data-action=play]")
            page.wait_for_function(f"() => {PLAYER}.playing", timeout=10_000)
            clicks, count_in, lead = page.evaluate(
                f"() => [{PLAYER}.clicks.length, {PLAYER}.anchor.output - {PLAYER}.countInFrom,"
                f" {PLAYER}.anchor.output - {PLAYER}.ctx.currentTime]"
            )
            print(f"count-in: {clicks} clicks, the song {count_in:.3f} s after the first")
            assert clicks == 4
            # 4 beats at 96 BPM, on the audio clock; and the song starts no later than those
            # beats after a start scheduled just ahead (however long the look took).
            assert count_in == pytest.approx(2.5, abs=0.001)
            assert lead <= 2.9
            # On the audio clock: 1 s before the song is due, held; 0.5 s after, moving.
            counting, moving = page.evaluate(COUNT_IN_POSITIONS.replace("PLAYER_EXPR", PLAYER))
            assert counting["time"] < counting["due"], counting
            assert counting["position"] == pytest.approx(held, abs=0.01)
            assert moving["position"] > held + 0.3
            page.click(f"{player} [data-action=play]")  # pause
            page.select_option(f"{player} [data-role=count-in]", "0")

            # The library card: the jam track's own waveform and the length, before play.
            page.goto(f"{server}/")
            card = ".track-row [data-player]"
            page.wait_for_selector(card)
            assert page.get_attribute(card, "data-parts") == "instrumental"
            assert "/peaks/instrumental.json" in page.get_attribute(
                f"{card} [data-stem]", "data-peaks"
            )
            assert page.inner_text(f"{card} [data-role=length]") == "0:48"
            page.screenshot(path=screenshots / "player-3-library.png", full_page=True)

            # A phone: nothing wider than the screen, every control a fingertip wide.
            phone = log_in(
                browser,
                server,
                viewport={"width": 390, "height": 844},
                is_mobile=True,
                has_touch=True,
            )
            phone.goto(track_url)
            phone.wait_for_function(f"() => {PLAYER} && {PLAYER}.wave")
            assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
            small = phone.evaluate(
                """() => [...document.querySelectorAll('[data-player] button,'
                                                      + ' [data-player] input:not([type=hidden]),'
                                                      + ' [data-player] select')]
                         .map(e => { const r = e.getBoundingClientRect();
                                     return [e.dataset.action || e.dataset.role,
                                             r.width, r.height]; })
                         .filter(([, w, h]) => w < 44 || h < 44)"""
            )
            assert small == []
            phone.screenshot(path=screenshots / "player-4-phone-390x844.png", full_page=True)
        finally:
            browser.close()


# --- The browser's live stretch, measured: an OfflineAudioContext render in Chromium -------
RENDER = """async ({rate, semitones, moduleUrl}) => {
  SignalsmithStretch.moduleUrl = moduleUrl;  // as static/js/player.js: no blob: (the CSP)
  const sr = 44100, before = 0.5, tone = 3.0, after = 0.5;
  const input = new Float32Array(Math.round(sr * (before + tone + after)));
  for (let i = 0; i < tone * sr; i++) {
    const fade = Math.min(1, i / 441, (tone * sr - i) / 441);
    input[Math.round(before * sr) + i] = 0.5 * fade * Math.sin(2 * Math.PI * 440 * i / sr);
  }
  const length = Math.ceil(sr * ((before + tone + after) / rate + 1));
  const ctx = new OfflineAudioContext(1, length, sr);
  const node = await SignalsmithStretch(ctx, {numberOfInputs: 1, numberOfOutputs: 1,
                                              outputChannelCount: [1]});
  node.connect(ctx.destination);
  await node.addBuffers([input]);
  await node.schedule({outputTime: 0, input: 0, active: true, rate, semitones});
  const out = await ctx.startRendering();
  return Array.from(out.getChannelData(0));
}"""


def tone_duration(signal: np.ndarray, rate: int) -> tuple[float, float]:
    """Start and end (s) of where the 10 ms RMS stays above half its median in the tone."""
    frame = rate // 100
    frames = len(signal) // frame
    level = np.sqrt(np.mean(signal[: frames * frame].reshape(frames, frame) ** 2, axis=1))
    loud = level > 0.5 * np.median(level[level > 0.05 * level.max()])
    first, last = np.argmax(loud), len(loud) - 1 - np.argmax(loud[::-1])
    return first * frame / rate, (last + 1) * frame / rate


def f0(signal: np.ndarray, rate: int) -> float:
    """The tone's frequency: the peak of a Hann-windowed, zero-padded FFT, interpolated."""
    windowed = signal * np.hanning(len(signal))
    size = 1 << 21
    spectrum = np.abs(np.fft.rfft(windowed, size))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-20)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / size


@pytest.mark.parametrize(
    ("rate", "semitones", "expect_duration", "expect_pitch"),
    [(0.75, 0, 3.0 / 0.75, 440.0), (1.0, 2, 3.0, 440.0 * 2 ** (2 / 12))],
    ids=["tempo-75-percent", "key-plus-2-semitones"],
)
def test_the_browsers_live_stretch_keeps_pitch_and_length_apart(
    chromium_path, server, rate, semitones, expect_duration, expect_pitch
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/accounts/login/")
            library = f"{server}/static/vendor/signalsmith-stretch/SignalsmithStretch.js"
            page.add_script_tag(url=library)
            settings = {"rate": rate, "semitones": semitones, "moduleUrl": library}
            rendered = np.asarray(page.evaluate(RENDER, settings), dtype=np.float64)
        finally:
            browser.close()
    start, end = tone_duration(rendered, 44100)
    middle = rendered[
        int((start + 0.25 * (end - start)) * 44100) : int((end - 0.25 * (end - start)) * 44100)
    ]
    pitch = f0(middle, 44100)
    duration = end - start
    print(
        f"Chromium live stretch, tempo {rate:.0%}, key {semitones:+d}: tone lasts {duration:.3f} s "
        f"(expected {expect_duration:.3f} s, {100 * (duration / expect_duration - 1):+.2f} %), "
        f"pitch {pitch:.2f} Hz (expected {expect_pitch:.2f} Hz, "
        f"{100 * (pitch / expect_pitch - 1):+.3f} %; {100 * (pitch / 440 - 1):+.2f} % from 440 Hz)"
    )
    assert pitch == pytest.approx(expect_pitch, rel=0.01)
    assert duration == pytest.approx(expect_duration, rel=0.01)
    if semitones == 2:
        assert 100 * (pitch / 440 - 1) == pytest.approx(12.2, abs=1.0)

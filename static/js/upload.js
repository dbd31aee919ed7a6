// Uploads straight to the bucket (when storage is one: the form has data-direct). The web
// node only signs: it starts a multipart upload, signs a URL per part, then completes and
// checks the file. The parts go from here to the bucket, and a dropped connection costs
// only the part it cut: the upload's key is kept in localStorage for the chosen file, so
// pressing Upload again (even after a reload) asks which parts the bucket has and sends the
// rest. The arithmetic is exported for tests/js/upload.test.mjs.

export const SIGN_BATCH = 8; // part URLs asked for at once
export const PARALLEL_PARTS = 3; // parts sent at the same time
export const PART_TRIES = 3; // tries of one part before the page gives up (resume later)
const KEYS = "jamwithme.uploads"; // localStorage: {fingerprint: upload key}

/** How many parts a file of `size` bytes takes in parts of `partSize` (one at least). */
export function partCount(size, partSize) {
  if (!(partSize > 0)) throw new RangeError("partSize must be positive");
  return Math.max(1, Math.ceil(size / partSize));
}

/** The byte range [start, end) of part `number` (from 1) of a file of `size` bytes. */
export function partRange(number, partSize, size) {
  const count = partCount(size, partSize);
  if (!Number.isInteger(number) || number < 1 || number > count) {
    throw new RangeError(`no part ${number} in ${count}`);
  }
  const start = (number - 1) * partSize;
  return { start, end: Math.min(size, start + partSize) };
}

/** The part numbers still to send, in order, given those the bucket already holds. */
export function missingParts(count, done) {
  const have = new Set(done);
  const missing = [];
  for (let number = 1; number <= count; number += 1) {
    if (!have.has(number)) missing.push(number);
  }
  return missing;
}

/** Bytes the bucket already holds of the file: the sizes of its done parts. */
export function bytesDone(done, partSize, size) {
  const count = partCount(size, partSize);
  return [...new Set(done)]
    .filter((number) => number >= 1 && number <= count)
    .reduce((sum, number) => {
      const { start, end } = partRange(number, partSize, size);
      return sum + (end - start);
    }, 0);
}

/** `list` cut in runs of at most `size`. */
export function batches(list, size) {
  const runs = [];
  for (let index = 0; index < list.length; index += size) runs.push(list.slice(index, index + size));
  return runs;
}

/** What identifies a chosen file across reloads (the browser gives no path). */
export function fingerprint(file) {
  return `${file.name}\u0000${file.size}\u0000${file.lastModified}`;
}

/** The upload key kept for this file in `storage` (localStorage), made by `makeKey` if none. */
export function keyFor(storage, file, makeKey) {
  const kept = readKeys(storage);
  const print = fingerprint(file);
  if (!kept[print]) {
    kept[print] = makeKey();
    storage.setItem(KEYS, JSON.stringify(kept));
  }
  return kept[print];
}

/** Forget the key of a file whose upload became a track. */
export function forgetKey(storage, file) {
  const kept = readKeys(storage);
  delete kept[fingerprint(file)];
  storage.setItem(KEYS, JSON.stringify(kept));
}

function readKeys(storage) {
  try {
    const kept = JSON.parse(storage.getItem(KEYS) || "{}");
    return kept && typeof kept === "object" ? kept : {};
  } catch {
    return {};
  }
}

// --- In the page ------------------------------------------------------------------------

class Refused extends Error {
  constructor(errors) {
    super(errors.join(" "));
    this.errors = errors;
  }
}

function putPart(url, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
    xhr.addEventListener("load", () => (xhr.status === 200 ? resolve() : reject(new Error(`PUT ${xhr.status}`))));
    xhr.addEventListener("error", () => reject(new Error("connection lost")));
    xhr.send(blob);
  });
}

async function sendPart(url, blob, onProgress) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await putPart(url, blob, onProgress);
    } catch (error) {
      if (attempt >= PART_TRIES) throw error;
    }
  }
}

export async function uploadDirect(form, file, onProgress) {
  const start = form.dataset.direct;
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  const key = keyFor(window.localStorage, file, () => crypto.randomUUID());
  const post = async (url, body) => {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    if (!response.ok) throw new Refused(data.errors || [`The upload failed (${response.status}). Please try again.`]);
    return { status: response.status, data };
  };
  const quality = form.querySelector("[name=quality]:checked");
  const begun = await post(start, {
    upload_key: key,
    filename: file.name,
    size: file.size,
    title: form.elements.title ? form.elements.title.value : "",
    quality: quality ? quality.value : "",
  });
  if (begun.status === 201) {
    forgetKey(window.localStorage, file);
    return begun.data; // this file's track exists already (an earlier try's)
  }
  const plan = begun.data;
  let sent = bytesDone(plan.done_parts, plan.part_size, file.size);
  onProgress(sent, file.size);
  const loading = new Map(); // part number -> bytes of it sent so far
  const report = () => onProgress(sent + [...loading.values()].reduce((a, b) => a + b, 0), file.size);
  for (const batch of batches(missingParts(plan.part_count, plan.done_parts), SIGN_BATCH)) {
    const { data } = await post(`${start}${key}/sign/`, { parts: batch });
    const queue = [...batch];
    const lane = async () => {
      while (queue.length) {
        const number = queue.shift();
        const { start: from, end } = partRange(number, plan.part_size, file.size);
        await sendPart(data.urls[number], file.slice(from, end), (loaded) => {
          loading.set(number, loaded);
          report();
        });
        loading.delete(number);
        sent += end - from;
        report();
      }
    };
    // Every lane ends before a failure is reported: no part is still going when the page
    // says to press Upload again, and the parts that could be sent are kept for the resume.
    const lanes = await Promise.allSettled(Array.from({ length: Math.min(PARALLEL_PARTS, batch.length) }, lane));
    const failed = lanes.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  }
  onProgress(file.size, file.size);
  const finished = await post(`${start}${key}/finish/`);
  forgetKey(window.localStorage, file);
  return finished.data;
}

function setUp(form) {
  const bar = form.querySelector("[data-role=upload-progress]");
  const meter = bar.querySelector("progress");
  const label = form.querySelector("[data-role=upload-percent]");
  const errors = form.querySelector("[data-role=upload-errors]");
  const button = form.querySelector("button[type=submit]");
  const say = (texts) => {
    texts.forEach((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      errors.appendChild(item);
    });
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.textContent = "";
    const file = form.elements.file.files[0];
    if (!file) {
      say(["Please choose a song."]);
      return;
    }
    button.disabled = true;
    bar.hidden = false;
    try {
      const made = await uploadDirect(form, file, (done, total) => {
        const percent = Math.round((done / total) * 100);
        meter.value = percent;
        label.textContent = percent < 100 ? `${percent}%` : "Checking the audio…";
      });
      window.location.href = made.redirect;
    } catch (error) {
      say(error instanceof Refused ? error.errors : ["The connection was lost during the upload. Press Upload again to go on where it stopped."]);
      bar.hidden = true;
      button.disabled = false;
    }
  });
}

if (typeof document !== "undefined") {
  document.querySelectorAll("form[data-direct]").forEach(setUp);
}

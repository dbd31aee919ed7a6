// The direct upload's part and resume arithmetic (static/js/upload.js, an ES module): which
// bytes each part holds, which parts a resumed upload still sends, what the progress bar
// starts from, and the key kept per chosen file across reloads.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  batches,
  bytesDone,
  forgetKey,
  keyFor,
  missingParts,
  partCount,
  partRange,
} from "../../static/js/upload.js";

const MiB = 1024 * 1024;

test("a file is cut in whole parts and a shorter last one", () => {
  const size = 20 * MiB + 3;
  assert.equal(partCount(size, 8 * MiB), 3);
  assert.deepEqual(partRange(1, 8 * MiB, size), { start: 0, end: 8 * MiB });
  assert.deepEqual(partRange(3, 8 * MiB, size), { start: 16 * MiB, end: size });
});

test("the parts cover every byte exactly once", () => {
  for (const size of [1, 8 * MiB - 1, 8 * MiB, 8 * MiB + 1, 41 * MiB + 7]) {
    let next = 0;
    for (let number = 1; number <= partCount(size, 8 * MiB); number += 1) {
      const { start, end } = partRange(number, 8 * MiB, size);
      assert.equal(start, next);
      assert.ok(end > start);
      next = end;
    }
    assert.equal(next, size);
  }
});

test("an empty or exact file still has one part, and no part past the last", () => {
  assert.equal(partCount(0, 8 * MiB), 1);
  assert.equal(partCount(16 * MiB, 8 * MiB), 2);
  assert.throws(() => partRange(3, 8 * MiB, 16 * MiB), RangeError);
  assert.throws(() => partRange(0, 8 * MiB, 16 * MiB), RangeError);
  assert.throws(() => partCount(10, 0), RangeError);
});

test("a resumed upload sends only the parts the bucket lacks, in order", () => {
  assert.deepEqual(missingParts(5, [1, 2, 4]), [3, 5]);
  assert.deepEqual(missingParts(3, []), [1, 2, 3]);
  assert.deepEqual(missingParts(3, [3, 1, 2]), []);
});

test("the progress of a resumed upload starts from the bytes already there", () => {
  const size = 20 * MiB + 3;
  assert.equal(bytesDone([], 8 * MiB, size), 0);
  assert.equal(bytesDone([1], 8 * MiB, size), 8 * MiB);
  assert.equal(bytesDone([3, 1], 8 * MiB, size), 12 * MiB + 3);
  assert.equal(bytesDone([1, 1, 9], 8 * MiB, size), 8 * MiB); // repeats and strays ignored
});

test("part URLs are asked for a few at a time", () => {
  assert.deepEqual(batches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(batches([], 8), []);
});

function memoryStorage() {
  const items = new Map();
  return {
    getItem: (name) => (items.has(name) ? items.get(name) : null),
    setItem: (name, value) => items.set(name, String(value)),
  };
}

test("the same chosen file keeps its upload key across reloads until it is done", () => {
  const storage = memoryStorage();
  const file = { name: "song.wav", size: 123, lastModified: 1700000000000 };
  let made = 0;
  const makeKey = () => `key-${(made += 1)}`;
  assert.equal(keyFor(storage, file, makeKey), "key-1");
  assert.equal(keyFor(storage, { ...file }, makeKey), "key-1"); // chosen again after a reload
  assert.equal(keyFor(storage, { ...file, lastModified: 1 }, makeKey), "key-2"); // another file
  forgetKey(storage, file);
  assert.equal(keyFor(storage, file, makeKey), "key-3");
});

test("a damaged record of keys is started afresh", () => {
  const storage = memoryStorage();
  storage.setItem("jamwithme.uploads", "{not json");
  assert.equal(keyFor(storage, { name: "a", size: 1, lastModified: 2 }, () => "fresh"), "fresh");
});

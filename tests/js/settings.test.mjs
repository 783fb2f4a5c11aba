// settings.js (share links, the form's ranges) and choices.js (the Key and Meter menus).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { menuGroups, menuNote } from "../../web/src/page/choices.js";
import { ECHO_CHARS, echo, fromHash, keyChoice, LIMITS, linkChanges, meterChoice, toHash }
  from "../../web/src/page/settings.js";

const SHARED = JSON.parse(readFileSync(new URL("../vectors/limits.json", import.meta.url)));

test("the page takes the seeds and tempi the CLI takes (tests/vectors/limits.json)", () => {
  for (const name of ["seed", "tempo"]) {
    assert.deepEqual([LIMITS[name].min, LIMITS[name].max], SHARED[name], name);
  }
  assert.equal(fromHash(`#seed=${SHARED.seed[1]}`).seed, 4294967295);
  assert.deepEqual(linkChanges(`#seed=${SHARED.seed[1]}&bpm=${SHARED.tempo[0]}`), []);
});

const SETTINGS = { model: "folk", temperature: 1, topP: 0.95, length: 200, tempo: 100, seed: 42,
  prime: "", version: "abc", key: "D:minor", meter: "6/8" };

test("a share link carries the key and meter, and leaves out any", () => {
  const hash = toHash(SETTINGS);
  assert.match(hash, /&key=D%3Aminor&meter=6%2F8$/);
  const { prime, ...rest } = SETTINGS; // an empty prime stays out of the link
  assert.equal(prime, "");
  assert.deepEqual(fromHash(hash), rest);
  assert.doesNotMatch(toHash({ ...SETTINGS, key: "any", meter: "any" }), /key|meter/);
  assert.deepEqual(linkChanges(hash), []);
});

test("a link's key or meter is read in any spelling; a bogus one is named and becomes any", () => {
  assert.equal(fromHash("#seed=1&key=dm&meter=%203/4").key, "D:minor");
  assert.equal(fromHash("#seed=1&key=Bb&meter=other").meter, "other");
  assert.equal(fromHash("#seed=1&key=Bb").key, "Bb:major");
  const bogus = "#seed=1&key=H:major&meter=5/4";
  assert.deepEqual([fromHash(bogus).key, fromHash(bogus).meter], ["any", "any"]);
  const changes = linkChanges(bogus);
  assert.equal(changes.length, 2);
  assert.match(changes[0], /^key "H:major" is not a key .* so any/);
  assert.match(changes[1], /^meter "5\/4" is not one of the meters .* so any/);
  assert.deepEqual([keyChoice("any"), keyChoice("x"), meterChoice("12/8")], ["any", null, "12/8"]);
});

test("a link's values are quoted short, without bidirectional or control characters", () => {
  const long = "x".repeat(1_000_000);
  const [change] = linkChanges(`#seed=1&key=${long}`);
  assert.ok(change.length < 200, `${change.length} characters`);
  assert.match(change, new RegExp(`^key "x{${ECHO_CHARS - 1}}…" is not a key`));
  assert.equal([...echo(long)].length, ECHO_CHARS);
  const rtl = linkChanges("#seed=1&key=%E2%80%AEronim%3AD%E2%81%A6%0A")[0];
  assert.match(rtl, /^key "ronim:D" is not a key/);
  assert.equal(echo("D\u202Eminor\u2067\u200F\u0000"), "Dminor");
  assert.equal(echo("Bb:major"), "Bb:major"); // short, plain values are quoted whole
});

test("a number not written in decimal is named with the value it was read as", () => {
  const changes = linkChanges("#seed=0x10&n=1e2&bpm=0b1111000");
  assert.deepEqual(fromHash("#seed=0x10").seed, 16);
  assert.equal(changes.length, 2);
  assert.match(changes[0], /^length|^tempo|^seed/);
  assert.ok(changes.some((c) => c === 'seed "0x10" is not written as a decimal number; it ' +
    "was read as 16"), changes.join("\n"));
  assert.ok(changes.some((c) => c.startsWith('tempo "0b1111000" is not written as a decimal')));
  assert.deepEqual(linkChanges("#seed=10&n=1e2&p=.5&t=+1"), []); // exponents, signs, points
});

test("menus: any, then the keys seen in training with counts, then the unseen ones", () => {
  const conditioning = { key: { "G:major": 45, "A:minor": 43, "D:major": 43 },
    meter: { "4/4": 313, "3/4": 38, other: 1 } };
  const [any, seen, unseen] = menuGroups("key", conditioning);
  assert.deepEqual(any.options, [{ value: "any", text: "any (the model chooses)" }]);
  assert.deepEqual(seen.options.map((o) => o.text),
    ["G major (45 songs)", "D major (43 songs)", "A minor (43 songs)"]); // ties: token order
  assert.equal(unseen.options.length, 21);
  assert.deepEqual(unseen.options[1], { value: "C#:major", text: "C♯ major (unseen)" });
  const meters = menuGroups("meter", conditioning);
  assert.deepEqual(meters[1].options.map((o) => o.text),
    ["4/4 (313 songs)", "3/4 (38 songs)", "other (1 song)"]);
  assert.equal(meters[2].options.length, 8);
  const plain = menuGroups("meter", null);
  assert.equal(plain.length, 2);
  assert.equal(plain[1].options.length, 11);
  assert.match(menuNote("folk", { version: 1, conditioning: null }, false), /predates keys/);
  assert.match(menuNote("x", { version: 2, conditioning }, true), /keeps that start's key/);
  assert.match(menuNote("x", { version: 2, conditioning: null }, false), /does not say/);
});

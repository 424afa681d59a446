// A tiny test runner: test(name, fn) collects, run() prints one line per failure and
// "N passed, N failed", exit code 1 on any failure (CI reads that line).
const tests = [];
export const test = (name, fn) => tests.push({ name, fn });

export async function run(label) {
  let passed = 0, failed = 0;
  for (const { name, fn } of tests) {
    try {
      await fn();
      passed += 1;
      console.log(`ok   ${name}`);
    } catch (err) {
      failed += 1;
      console.log(`FAIL ${name}: ${err && err.stack ? err.stack.split("\n").slice(0, 3).join(" | ") : err}`);
    }
  }
  console.log(`${label}: ${passed} passed, ${failed} failed`);
  return failed;
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Compare arrays: max abs difference and mean abs difference within limits. */
export function close(actual, expected, { maxAbs = 1e-5, meanAbs = Infinity, what = "" } = {}) {
  assert(actual.length === expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  let worst = 0, sum = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) { worst = d; at = i; }
    sum += d;
  }
  const mean = sum / Math.max(actual.length, 1);
  assert(worst <= maxAbs && mean <= meanAbs,
    `${what}: max |d| ${worst} at ${at} (got ${actual[at]}, want ${expected[at]}), mean |d| ${mean}; limits ${maxAbs}, ${meanAbs}`);
  return { worst, mean };
}

export function equal(actual, expected, what = "") {
  const a = JSON.stringify(actual), b = JSON.stringify(expected);
  assert(a === b, `${what}: ${a.slice(0, 300)} != ${b.slice(0, 300)}`);
}

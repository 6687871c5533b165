// Prints the functions with the most self time in a V8 .cpuprofile: `node bench/profile-summary.js FILE [N]`.
const { readFileSync } = require('node:fs');
const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const limit = Number(process.argv[3] ?? 30);
const timeByNode = new Map();
for (const [index, id] of profile.samples.entries()) {
  timeByNode.set(id, (timeByNode.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
}
const selfTime = new Map();
for (const node of profile.nodes) {
  const frame = node.callFrame;
  const key = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/.*node_modules\//, '')}:${frame.lineNumber}`;
  selfTime.set(key, (selfTime.get(key) ?? 0) + (timeByNode.get(node.id) ?? 0));
}
const total = [...selfTime.values()].reduce((sum, value) => sum + value, 0);
for (const [key, value] of [...selfTime.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
  console.log(`${((value / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
}

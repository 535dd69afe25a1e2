// One HTTP/2 connection (prior knowledge), three event streams. Once each has two events,
// the first is reset (RST_STREAM CANCEL) and "reset <time>" is printed at once: the time
// of the reset in milliseconds since the epoch (performance.timeOrigin + now(), the
// wall clock with a fraction). The two others read on until each has five more events;
// then everything is closed and a JSON summary printed: events per stream, in all and
// since the reset.
const http2 = require("http2");
const { performance } = require("perf_hooks");
const url = process.argv[2];
const session = http2.connect(url);
const counts = [0, 0, 0];
const since = [0, 0, 0];
const requests = [];
let resetAt = null;
let finished = false;

function maybeReset() {
  if (resetAt !== null || counts.some((n) => n < 2)) return;
  resetAt = performance.timeOrigin + performance.now();
  requests[0].close(http2.constants.NGHTTP2_CANCEL);
  process.stdout.write(`reset ${resetAt}\n`); // synchronous on a pipe
}

function maybeFinish() {
  if (finished || since[1] < 5 || since[2] < 5) return;
  finished = true;
  requests[1].close(http2.constants.NGHTTP2_CANCEL);
  requests[2].close(http2.constants.NGHTTP2_CANCEL);
  session.close();
  process.stdout.write(JSON.stringify({ counts, since }) + "\n");
}

for (let i = 0; i < 3; i++) {
  const req = session.request({ ":path": "/ticker", accept: "text/event-stream" });
  requests.push(req);
  req.setEncoding("utf8");
  req.on("data", (chunk) => {
    const n = (chunk.match(/\n\n/g) || []).length;
    counts[i] += n;
    if (resetAt !== null) since[i] += n;
    maybeReset();
    maybeFinish();
  });
  req.on("error", () => {});
}

// One HTTP/2 connection (prior knowledge), three event streams; the first is reset after
// its first event, the two others read 3 events each. Prints a JSON summary.
const http2 = require("http2");
const url = process.argv[2];
const session = http2.connect(url);
const counts = [0, 0, 0];
let done = 0;
function finish() {
  if (++done === 3) {
    session.close();
    console.log(JSON.stringify({ counts }));
  }
}
for (let i = 0; i < 3; i++) {
  const req = session.request({ ":path": "/ticker", accept: "text/event-stream" });
  req.setEncoding("utf8");
  let finished = false;
  req.on("data", (chunk) => {
    counts[i] += (chunk.match(/\n\n/g) || []).length;
    if (finished) return;
    if ((i === 0 && counts[i] >= 1) || counts[i] >= 3) {
      finished = true;
      req.close(http2.constants.NGHTTP2_CANCEL);
      finish();
    }
  });
  req.on("error", () => {});
}

// The seed's client-side JavaScript, for the server in examples/workerman_seed.py.
//
// In a browser: open http://127.0.0.1:8080/ (the page says "ok"), then paste this into
// the developer console. Use that same origin: the example server sends no CORS headers,
// so an EventSource opened from a page of another origin is refused by the browser.
//
// With Node.js (20 or newer, where EventSource is still behind a flag):
//
//     node --experimental-eventsource examples/client.js [URL]
//
// EventSource sends "Accept: text/event-stream", which is what the server checks for.
// When the connection drops it reconnects by itself (after the server's `retry:` time,
// about 3 s by default) and sends the last `id:` it saw as the Last-Event-ID header.

// Under Node a URL may be given on the command line; a browser has no `process`.
var url = (typeof process !== 'undefined' && process.argv[2]) || 'http://127.0.0.1:8080';

var source = new EventSource(url);
source.addEventListener('message', function (event) {
  var data = event.data;
  console.log(data); // Outputs hello
}, false);

// npm's ws as a client for spec/ws_node_spec.lua, against a luster echo
// server: runs one scenario and prints what it saw as JSON lines.
// Usage: node ws_client.js URL SCENARIO
const WebSocket = require('ws');
const crypto = require('crypto');
const [url, scenario] = process.argv.slice(2);
const out = (o) => console.log(JSON.stringify(o));
const ws = new WebSocket(url, ['chat'], { maxPayload: 64 * 1024 * 1024 });
const queue = [];
let waiting = null;
ws.on('message', (data, isBinary) => {
  const m = { data, isBinary };
  if (waiting) { const w = waiting; waiting = null; w(m); } else queue.push(m);
});
const next = () => new Promise((r) => { if (queue.length) r(queue.shift()); else waiting = r; });
ws.on('error', (e) => out({ error: e.message }));
ws.on('close', (code, reason) => { out({ close: code, reason: reason.toString() }); process.exit(0); });
ws.on('open', async () => {
  out({ open: true, protocol: ws.protocol });
  if (scenario === 'exchange') {
    ws.send('héllo');
    let m = await next(); out({ text: m.data.toString(), isBinary: m.isBinary });
    ws.send(Buffer.from([0, 1, 2, 255]));
    m = await next(); out({ binary: [...m.data], isBinary: m.isBinary });
    ws.send('fr', { fin: false }); ws.send('ag', { fin: false }); ws.send('ment', { fin: true });
    m = await next(); out({ fragmented: m.data.toString(), isBinary: m.isBinary });
    const big = crypto.randomBytes(16 * 1024 * 1024);
    ws.send(big);
    m = await next();
    out({ big: m.data.length, same: Buffer.compare(big, m.data) === 0, isBinary: m.isBinary });
    ws.on('pong', (d) => out({ pong: d.toString() }));
    ws.ping('node-ping');
    await new Promise((r) => ws.once('pong', r));
    ws.close(4001, 'node bye');
  } else if (scenario === 'bad-utf8') {
    ws.send(Buffer.from([0x68, 0xc3, 0x28]), { binary: false });   // ws does not check what it sends
  } else if (scenario === 'oversize') {
    ws.send(Buffer.alloc(4096, 1));
  } else if (scenario === 'server-close') {
    ws.send('close-me');
  }
});

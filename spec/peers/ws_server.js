// npm's ws as a server for spec/ws_node_spec.lua: echoes messages, and a few
// text commands make it send what a luster client must handle.  Prints one
// JSON line per event the spec checks ({close, reason} when a client goes).
// Usage: node ws_server.js PORT
const { WebSocketServer } = require('ws');
const port = Number(process.argv[2]);
const wss = new WebSocketServer({ port, host: '127.0.0.1',
  handleProtocols: (set) => (set.has('chat') ? 'chat' : false) });
wss.on('connection', (ws, req) => {
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    if (text === 'bad-utf8') return ws.send(Buffer.from([0x68, 0xff, 0xfe]), { binary: false });
    if (text && text.startsWith('big:')) return ws.send(Buffer.alloc(Number(text.slice(4)), 0x61), { binary: false });
    if (text === 'frag') {
      ws.send('fr', { fin: false }); ws.send('ag', { fin: false }); ws.send('ment', { fin: true });
      return;
    }
    if (text === 'ping') return ws.ping('node-ping');
    if (text && text.startsWith('close:')) {
      const [, code, reason] = text.split(':');
      return ws.close(Number(code), reason);
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on('ping', (d) => ws.send('got-ping:' + d.toString()));
  ws.on('pong', (d) => ws.send('got-pong:' + d.toString()));
  ws.on('error', () => {});
  ws.on('close', (code, reason) => {
    console.log(JSON.stringify({ close: code, reason: reason.toString(), path: req.url, protocol: ws.protocol }));
  });
});

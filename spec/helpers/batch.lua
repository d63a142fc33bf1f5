--- Many HTTP requests from one python3 process (each on its own
--- connection, with http.client), for specs that ask a server dozens of
--- questions: starting python once per request would dominate their time.
---
---   local batch = require('helpers.batch')
---   local r = batch(port, { { 'GET', '/x' }, { 'POST', '/y', body = '{}', headers = { ... } } })
---   r[1].status, r[1].headers['content-type'], r[1].body
--- A request may set `chunked = {'piece', ...}` to send its body chunked.
local H = require('helpers.http')
local json = require('json')

local SCRIPT = [==[
import http.client, json, sys
reqs = json.load(open(sys.argv[1]))
out = []
for q in reqs:
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=10)
    body = q.get('body')
    if body is not None: body = bytes.fromhex(body)
    headers = q.get('headers') or {}
    try:
        if q.get('chunked') is not None:
            parts = [bytes.fromhex(p) for p in q['chunked']]
            c.putrequest(q['method'], q['path'], skip_accept_encoding=True)
            for k, v in headers.items(): c.putheader(k, v)
            c.putheader('Transfer-Encoding', 'chunked')
            c.endheaders()
            for p in parts: c.send(b'%x\r\n' % len(p) + p + b'\r\n')
            c.send(b'0\r\n\r\n')
        else:
            c.request(q['method'], q['path'], body=body, headers=headers)
        r = c.getresponse()
        b = r.read()
        h = {}
        for k, v in r.getheaders():
            k = k.lower()
            h[k] = h[k] + ', ' + v if k in h else v
        path = OUT + '.%d' % len(out)
        open(path, 'wb').write(b)
        out.append({'status': r.status, 'headers': h, 'body': path})
    except Exception as e:
        out.append({'status': 0, 'headers': {}, 'error': repr(e)})
    c.close()
print(json.dumps(out))
]==]

local function hex(s) return (s:gsub('.', function(c) return ('%02x'):format(c:byte()) end)) end

return function(port, reqs)
  local list = {}
  for i, r in ipairs(reqs) do
    local q = { method = r[1], path = r[2], headers = r.headers or json.object() }
    if r.body then q.body = hex(r.body) end
    if r.chunked then
      q.chunked = {}
      for j, p in ipairs(r.chunked) do q.chunked[j] = hex(p) end
    end
    list[i] = q
  end
  local file = H.tmp('.json', json.encode(list))
  local src = ('OUT = %q\n'):format(file) .. SCRIPT:gsub('sys.argv%[1%]', 'OUT')
  local out, err = H.py(port, src)
  os.remove(file)
  local ok, res = pcall(json.decode, out)
  if not ok then error('batch client failed: ' .. tostring(out) .. '\n' .. tostring(err), 2) end
  -- bodies come back in files: large ones would be slow to decode from text
  for _, r in ipairs(res) do
    local path = r.body
    r.body = path and H.slurp(path) or ''
    if path then os.remove(path) end
  end
  return res
end

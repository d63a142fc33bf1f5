-- The HTTP examples (examples/*.lua) run as written, answering real requests.
local H = require('helpers.http')
local json = require('json')

local dir = (os.getenv('LUSTER_SOURCE_DIR') or '.') .. '/examples/'

-- examples read their port from the environment; 0 picks a free one
local function start_example(name)
  return H.spawn({ PORT = 0 }, dir .. name)
end

local function call(port, method, path, body)
  local out = H.py(port, ([[
import http.client, json
c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=20)
c.request(%q, %q, body=%s, headers={'Content-Type': 'application/json'})
r = c.getresponse()
print(json.dumps({'status': r.status, 'body': r.read().decode('latin-1')}))
]]):format(method, path, body and ('%q'):format(body) or 'None'))
  return json.decode(out)
end

describe('examples/http_hello.lua', function()
  it('answers Hello, World!', function()
    local srv = start_example('http_hello.lua')
    local out = H.curl('-i http://127.0.0.1:' .. srv.port .. '/')
    assert.truthy(out:match('^HTTP/1%.1 200 OK\r\n'))
    assert.truthy(out:find('\r\n\r\nHello, World!\n$'))
    srv:stop()
  end)
end)

describe('examples/json_api.lua', function()
  it('creates, lists, updates and deletes todos', function()
    local srv = start_example('json_api.lua')
    local p = srv.port
    assert.matches('"todos":%[%]', call(p, 'GET', '/todos').body) -- an empty list is still a JSON array
    assert.are.equal(201, call(p, 'POST', '/todos', '{"title": "milk"}').status)
    assert.are.equal(201, call(p, 'POST', '/todos', '{"title": "eggs"}').status)
    assert.are.equal(422, call(p, 'POST', '/todos', '{"title": ""}').status)
    assert.are.equal(400, call(p, 'POST', '/todos', '{"title": ').status)
    local list = json.decode(call(p, 'GET', '/todos').body)
    assert.are.equal(2, list.count)
    local t = json.decode(call(p, 'PATCH', '/todos/1', '{"done": true}').body)
    assert.is_true(t.done)
    assert.are.equal(1, json.decode(call(p, 'GET', '/todos?done=true').body).count)
    assert.are.equal(204, call(p, 'DELETE', '/todos/2').status)
    assert.are.equal(404, call(p, 'GET', '/todos/2').status)
    assert.are.equal(100, json.decode(call(p, 'GET', '/slow?ms=100').body).slept)
    srv:stop()
  end)
end)

describe('examples/process_image.lua', function()
  it('processes images in worker threads while the server keeps answering', function()
    local srv = start_example('process_image.lua')
    local img = { width = 3, height = 2, pixels = { 0, 30, 60, 90, 120, 255 } }
    local r = call(srv.port, 'POST', '/process-image', json.encode({ image = img }))
    assert.are.equal(200, r.status)
    local res = json.decode(r.body)
    assert.are.equal(3, res.width)
    assert.are.equal(92.5, res.mean)
    assert.are.equal(6, #res.blurred)
    -- several at once: each gets its own worker and its own answer
    local out = H.py(srv.port, [[
import http.client, json, threading
results = {}
def go(i):
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30)
    c.request('POST', '/process-image', body=json.dumps({'image': {'width': 1, 'height': 1, 'pixels': [i]}}),
              headers={'Content-Type': 'application/json'})
    results[i] = json.loads(c.getresponse().read())['mean']
ts = [threading.Thread(target=go, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(all(results[i] == i for i in range(8)))
]])
    assert.are.equal('True\n', out)
    srv:stop()
  end)
end)

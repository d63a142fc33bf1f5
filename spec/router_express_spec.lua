-- Express behaviours of the router (issue 8 §6), ported from what
-- Express's own tests check: response helpers, route arrays and
-- app:route, nxt('route'), app:param, error handlers and async errors,
-- app.locals, 404 for a method no route has.
local H = require('helpers.http')
local batch = require('helpers.batch')
local json = require('json')

local APP = [==[
local router = require('router')
local json = require('json')
local app = router()
app.locals.title = 'luster'

app:get('/status-json', function(req, res) res:status(201):json({ ok = true }) end)
app:get('/send-table', function(req, res) res:send({ list = json.array() }) end)
app:get('/send-string', function(req, res) res:send('<p>hi</p>') end)
app:get('/send-typed', function(req, res) res:type('txt'):send('plain') end)
app:get('/send-number', function(req, res) res:send(404) end)
app:get('/send-nothing', function(req, res) res:status(204):send() end)
app:get('/send-status', function(req, res) res:sendStatus(418) end)
app:get('/set', function(req, res)
  res:set('X-One', '1'):set({ ['X-Two'] = '2', ['Content-Type'] = 'json' })
  res:append('X-List', 'a'):append('X-List', 'b')
  res:send(json.encode({ one = res:get('x-one') }))
end)
app:get('/redirect', function(req, res) res:redirect('/target?q=\u{2603} \u{a7}10') end)
app:get('/redirect-301', function(req, res) res:redirect(301, '/moved') end)
app:get('/redirect-back', function(req, res) res:redirect('back') end)
app:all('/header', function(req, res)
  res:json({ ua = req:get('User-Agent'), ref = req:get('referrer'), missing = req:get('X-None') or json.null,
    is_json = req:is('json') or false })
end)

-- several handlers, arrays of them, and nxt('route')
local function mw1(req, res, nxt) res:set('X-Mw1', 'yes') nxt() end
local function mw2(req, res, nxt) res:set('X-Mw2', 'yes') nxt() end
app:get('/chain', mw1, { mw2 }, function(req, res) res:send('chained') end)
app:get('/user/:id', function(req, res, nxt)
  if req.params.id == '0' then return nxt('route') end
  nxt()
end, function(req, res) res:send('regular') end)
app:get('/user/:id', function(req, res) res:send('special') end)

-- app:route
app:route('/book'):get(function(req, res) res:send('get book') end)
  :post(function(req, res) res:send('post book') end)
  :all(function(req, res) res:send('any book ' .. req.method) end)

-- app:param, once per request and value
local param_calls = 0
app:param('uid', function(req, res, nxt, value)
  param_calls = param_calls + 1
  if value == 'nobody' then return nxt({ status = 404, message = 'no such user' }) end
  req.user = { name = value:upper() }
  nxt()
end)
app:get('/u/:uid', function(req, res, nxt) nxt() end)
app:get('/u/:uid', function(req, res) res:json({ user = req.user.name, calls = param_calls }) end)

-- errors: sync, async (after an await), nxt(err), error handlers in a route
app:get('/sync-error', function(req, res)
  res:set('Access-Control-Allow-Origin', '*'):set('Content-Range', 'bytes 0-1/2')
  error({ status = 409, message = 'conflict here' })
end)
app:get('/async-error', function()
  await(Promise.new(function(resolve) setTimeout(resolve, 5) end))
  error('raised after an await')
end)
local function raise_deep() error('plain string') end
app:get('/string-error', function() raise_deep() end)
app:get('/route-error', function(req, res, nxt) nxt({ status = 400, message = 'bad' }) end,
  function(err, req, res, nxt) res:status(200):json({ recovered = err.message }) end)
app:get('/strict-error', function()
  error(setmetatable({}, { __index = function(_, k) error('no field ' .. tostring(k)) end,
    __tostring = function() error('cannot print me') end }))
end)
app:get('/range/:from-:to', function(req, res) res:json(req.params) end)
app:get('/glob/*/x/*/y', function(req, res) res:json(req.params) end)
app:get('/locals', function(req, res, nxt) res.locals.seen = (res.locals.seen or 0) + 1 nxt() end,
  function(req, res) res:json({ title = req.app.locals.title, seen = res.locals.seen }) end)
app:get('/skip-error-handler', function(req, res, nxt) nxt() end)
app:use(function(err, req, res, nxt)
  if req.path == '/skip-error-handler' then error('error handlers are skipped without an error') end
  nxt(err)
end)
app:get('/skip-error-handler', function(req, res) res:send('skipped') end)
app:use(function(err, req, res, nxt)
  if req.path == '/async-error' then
    return res:status(500):json({ handled = tostring(err):match('raised after an await') })
  end
  nxt(err)
end)
app:listen(0, '127.0.0.1', function() console.log('port', app.server:address().port) end)
]==]

describe('router, as Express does it', function()
  local srv, r
  setup(function()
    srv = H.serve(APP)
    r = batch(srv.port, {
      { 'GET', '/status-json' }, { 'GET', '/send-table' }, { 'GET', '/send-string' }, -- 1-3
      { 'GET', '/send-typed' }, { 'GET', '/send-number' }, { 'GET', '/send-nothing' }, -- 4-6
      { 'GET', '/send-status' }, { 'GET', '/set' }, { 'GET', '/redirect' },          -- 7-9
      { 'GET', '/redirect-301' }, { 'GET', '/redirect-back', headers = { Referer = '/from' } }, -- 10-11
      { 'GET', '/redirect-back' },                                                   -- 12
      { 'POST', '/header', body = '{}', headers = { ['User-Agent'] = 'spec/1', Referer = '/r',
        ['Content-Type'] = 'application/json' } },                                   -- 13
      { 'GET', '/chain' }, { 'GET', '/user/0' }, { 'GET', '/user/1' },                 -- 14-16
      { 'GET', '/book' }, { 'POST', '/book' }, { 'PUT', '/book' }, { 'HEAD', '/book' }, -- 17-20
      { 'GET', '/u/ann' }, { 'GET', '/u/nobody' },                                   -- 21-22
      { 'GET', '/sync-error' }, { 'GET', '/async-error' }, { 'GET', '/string-error' }, -- 23-25
      { 'GET', '/route-error' }, { 'GET', '/locals' }, { 'DELETE', '/status-json' },  -- 26-28
      { 'GET', '/skip-error-handler' },                                              -- 29
      { 'OPTIONS', '/book' }, { 'OPTIONS', '/chain' }, { 'OPTIONS', '/nowhere' },    -- 30-32
      { 'GET', '/strict-error' }, { 'GET', '/locals' },                             -- 33-34
    })
  end)
  teardown(function() if srv then srv:stop() end end)

  it('chains res:status(code):json(v)', function()
    assert.are.equal(201, r[1].status)
    assert.are.equal('application/json', r[1].headers['content-type'])
    assert.are.same({ ok = true }, json.decode(r[1].body))
  end)

  it('sends tables as JSON, strings as HTML, numbers as a status, nothing as empty', function()
    assert.are.equal('{"list":[]}', r[2].body)
    assert.are.equal('text/html; charset=utf-8', r[3].headers['content-type'])
    assert.are.equal('<p>hi</p>', r[3].body)
    assert.are.equal('text/plain; charset=utf-8', r[4].headers['content-type'])
    assert.are.equal(404, r[5].status)
    assert.are.equal('Not Found', r[5].body)
    assert.are.equal(204, r[6].status)
    assert.are.equal(418, r[7].status)
  end)

  it('sets, reads and appends headers; res:set takes a table and a short type', function()
    assert.are.equal('1', r[8].headers['x-one'])
    assert.are.equal('2', r[8].headers['x-two'])
    assert.are.equal('application/json', r[8].headers['content-type'])
    assert.are.equal('a, b', r[8].headers['x-list'])
    assert.are.same({ one = '1' }, json.decode(r[8].body))
  end)

  it('redirects with 302 by default, encodes the url, and knows "back"', function()
    assert.are.equal(302, r[9].status)
    assert.are.equal('/target?q=%E2%98%83%20%C2%A710', r[9].headers['location'])
    assert.matches('Redirecting to', r[9].body)
    assert.are.equal(301, r[10].status)
    assert.are.equal('/moved', r[10].headers['location'])
    assert.are.equal('/from', r[11].headers['location'])
    assert.are.equal('/', r[12].headers['location'])
  end)

  it('reads request headers by any case with req:get, and req:is the type', function()
    assert.are.same({ ua = 'spec/1', ref = '/r', missing = json.null, is_json = 'json' }, json.decode(r[13].body))
  end)

  it('runs several handlers and arrays of them for one route', function()
    assert.are.equal('chained', r[14].body)
    assert.are.equal('yes', r[14].headers['x-mw1'])
    assert.are.equal('yes', r[14].headers['x-mw2'])
  end)

  it('skips the rest of a route with nxt("route")', function()
    assert.are.equal('special', r[15].body)
    assert.are.equal('regular', r[16].body)
  end)

  it('dispatches app:route(path) by method, all() catching the rest, HEAD served by get', function()
    assert.are.equal('get book', r[17].body)
    assert.are.equal('post book', r[18].body)
    assert.are.equal('any book PUT', r[19].body)
    assert.are.equal(200, r[20].status)
    assert.are.equal('', r[20].body)
  end)

  it('runs app:param callbacks once per request and value, before the handlers', function()
    assert.are.same({ user = 'ANN', calls = 1 }, json.decode(r[21].body))
    assert.are.equal(404, r[22].status)
    assert.are.same({ error = 'no such user' }, json.decode(r[22].body))
  end)

  it('turns raised errors into their status, also after an await, and keeps 5xx details private', function()
    assert.are.equal(409, r[23].status)
    assert.are.same({ error = 'conflict here' }, json.decode(r[23].body))
    assert.are.equal('*', r[23].headers['access-control-allow-origin']) -- kept, as Express's finalhandler
    assert.is_nil(r[23].headers['content-range'])
    assert.are.equal(500, r[24].status)
    assert.are.same({ handled = 'raised after an await' }, json.decode(r[24].body))
    assert.are.equal(500, r[25].status)
    assert.are.equal('Internal Server Error', r[25].body)
    assert.matches('plain string', srv:stderr())
    assert.matches("in function 'raise_deep'", srv:stderr()) -- the log has where it was raised
  end)

  it('answers 500 to an error object that raises when read or printed, and keeps serving', function()
    assert.are.equal(500, r[33].status)
    assert.are.equal(200, r[34].status)
  end)

  it('runs error handlers inside a route', function()
    assert.are.same({ recovered = 'bad' }, json.decode(r[26].body))
  end)

  it('shares app.locals as req.app.locals, and gives each request its res.locals', function()
    assert.are.same({ title = 'luster', seen = 1 }, json.decode(r[27].body))
    assert.are.same({ title = 'luster', seen = 1 }, json.decode(r[34].body)) -- res.locals is per request
  end)

  it('answers 404 to a method no route has, as Express does', function()
    assert.are.equal(404, r[28].status)
    assert.are.equal('Cannot DELETE /status-json', r[28].body)
  end)

  it('answers OPTIONS with the methods the path has, when no route takes OPTIONS', function()
    assert.are.equal('any book OPTIONS', r[30].body) -- all() takes it
    assert.are.equal(200, r[31].status)
    assert.are.equal('GET,HEAD', r[31].headers['allow'])
    assert.are.equal('GET,HEAD', r[31].body)
    assert.are.equal(404, r[32].status)
  end)

  it('splits two params in one segment at the literal between them', function()
    local q = batch(srv.port, { { 'GET', '/range/a-b-c' }, { 'GET', '/glob/p/q/x/r/y' } })
    assert.are.same({ from = 'a', to = 'b-c' }, json.decode(q[1].body))
    assert.are.same({ ['0'] = 'p/q', ['1'] = 'r' }, json.decode(q[2].body))
  end)

  it('does not spend quadratic time matching long paths against such routes', function()
    local function cpu_ticks()
      local f = assert(io.open('/proc/' .. srv.pid .. '/stat'))
      local stat = f:read('*a')
      f:close()
      local fields = {}
      for x in stat:match('%) (.*)$'):gmatch('%S+') do fields[#fields + 1] = x end
      return tonumber(fields[12]) + tonumber(fields[13]) -- utime + stime (fields 14, 15)
    end
    local reqs = {}
    for i = 1, 4 do
      reqs[#reqs + 1] = { 'GET', '/range/' .. ('a-'):rep(6000) .. '/b' }
      reqs[#reqs + 1] = { 'GET', '/glob/' .. ('x/'):rep(6000) .. 'z' }
    end
    local before = cpu_ticks()
    local q = batch(srv.port, reqs)
    local used = cpu_ticks() - before
    for i = 1, #q do assert.are.equal(404, q[i].status) end
    -- each would take ~0.5 s of CPU with backtracking patterns: 8 of them, 4 s
    assert.is_true(used < 100, 'the server used ' .. used .. ' ticks')
  end)

  it('skips error handlers when no error is pending', function()
    assert.are.equal('skipped', r[29].body)
  end)
end)

describe('router arguments', function()
  local router = require('router')
  it('raises ERR_INVALID_ARG_TYPE for a route without a path or handler', function()
    local app = router()
    local ok, e = pcall(app.get, app, function() end)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
    ok, e = pcall(app.get, app, '/x')
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
    ok, e = pcall(app.get, app, '/x', 'not a function')
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)
end)

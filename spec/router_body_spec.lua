-- Body parsing in the router (issue 8 §6): a layer in order, errors that
-- reach error middleware, limits, and the app's own JSON parser.
local H = require('helpers.http')
local batch = require('helpers.batch')
local json = require('json')

local APP = [==[
local router = require('router')
local json = require('json')
local app = router({ limit = 200 })
local log = {}
-- a logger first: it must see the status the body parser produces
app:use(function(req, res, nxt)
  res:on('finish', function()
    log[#log + 1] = req.method .. ' ' .. req.originalUrl .. ' ' .. res.statusCode
  end)
  nxt()
end)
app:get('/log', function(req, res) res:json(json.array(log)) end)
app:post('/echo', function(req, res)
  -- unparsed, req.body is still IncomingMessage's body() method
  local parsed = rawget(req, 'body')
  res:json({ body = parsed == nil and json.null or parsed, raw = parsed == nil and await(req:body()) or json.null })
end)
app:post('/custom/echo', function(req, res) res:json({ body = req.body }) end)

-- explicit parsers under a prefix, with their own limits
local api = router.Router()
api:use(router.json({ limit = '1kb' }))
api:use(router.urlencoded())
api:use(router.text({ type = 'text/*' }))
api:use(router.raw({ limit = 10 }))
api:post('/echo', function(req, res)
  res:json({ body = req.body, kind = type(req.body) })
end)
app:use('/api', api)

local loose = router.Router()
loose:use(router.json({ strict = false }))
loose:post('/echo', function(req, res) res:json({ body = req.body }) end)
app:use('/loose', loose)

app:use(function(err, req, res, nxt)
  if req.path == '/custom/echo' then
    return res:status(err.status):json({ handled = err.type })
  end
  nxt(err)
end)
app:listen(0, '127.0.0.1', function() console.log('port', app.server:address().port) end)
]==]

local JSON = { ['Content-Type'] = 'application/json' }

describe('router body parsing', function()
  local srv
  setup(function() srv = H.serve(APP) end)
  teardown(function() if srv then srv:stop() end end)

  it('parses a JSON body for the routes by default and passes other bodies on unread', function()
    local r = batch(srv.port, {
      { 'POST', '/echo', body = '{"a":[1,2,[]]}', headers = JSON },
      { 'POST', '/echo', body = '', headers = JSON },
      { 'POST', '/echo', body = 'plain words', headers = { ['Content-Type'] = 'text/plain' } },
      { 'POST', '/echo', body = '{"v":1}', headers = { ['Content-Type'] = 'application/vnd.api+json; charset=utf-8' } },
    })
    for i = 1, 4 do assert.are.equal(200, r[i].status, r[i].body) end
    assert.are.equal('{"a":[1,2,[]]}', json.encode(json.decode(r[1].body).body))
    assert.matches('"a":%[1,2,%[%]%]', r[1].body) -- res:json wrote the empty array back as []
    assert.are.same({}, json.decode(r[2].body).body)
    local plain = json.decode(r[3].body)
    assert.are.equal(json.null, plain.body)
    assert.are.equal('plain words', plain.raw)
    assert.are.same({ v = 1 }, json.decode(r[4].body).body)
  end)

  it('lets middleware before it see the 400 and 413 the parser produces', function()
    local r = batch(srv.port, {
      { 'GET', '/log' }, -- clears nothing; marks where this test starts
      { 'POST', '/echo', body = '{"image": ', headers = JSON },
      { 'POST', '/echo', body = '[' .. ('1,'):rep(150) .. '1]', headers = JSON },
      { 'POST', '/echo', headers = JSON, chunked = { '[' .. ('1,'):rep(80), ('1,'):rep(80) .. '1]' } },
      { 'GET', '/log' },
    })
    assert.are.equal(400, r[2].status)
    assert.matches('invalid JSON body', json.decode(r[2].body).error)
    assert.are.equal(413, r[3].status)
    assert.are.equal(413, r[4].status)
    local log = json.decode(r[5].body) -- the /log asking is not finished yet
    local n = #log
    assert.are.same({ 'GET /log 200', 'POST /echo 400', 'POST /echo 413', 'POST /echo 413' },
      { log[n - 3], log[n - 2], log[n - 1], log[n] })
  end)

  it('passes parse errors to error middleware with Express\'s status and type', function()
    local r = batch(srv.port, {
      { 'POST', '/custom/echo', body = '{bad', headers = JSON },
      { 'POST', '/custom/echo', body = ('x'):rep(300), headers = JSON },
      { 'POST', '/custom/echo', body = '{}', headers = { ['Content-Type'] = 'application/json', ['Content-Encoding'] = 'gzip' } },
    })
    assert.are.equal(400, r[1].status)
    assert.are.same({ handled = 'entity.parse.failed' }, json.decode(r[1].body))
    assert.are.equal(413, r[2].status)
    assert.are.same({ handled = 'entity.too.large' }, json.decode(r[2].body))
    assert.are.equal(415, r[3].status)
    assert.are.same({ handled = 'encoding.unsupported' }, json.decode(r[3].body))
  end)

  it('uses a router\'s own parsers, limits and types instead of the app\'s', function()
    local big = '{"s":"' .. ('y'):rep(500) .. '"}'
    local r = batch(srv.port, {
      { 'POST', '/api/echo', body = big, headers = JSON },
      { 'POST', '/api/echo', body = 'a=1&b=x+y&b=%21', headers = { ['Content-Type'] = 'application/x-www-form-urlencoded' } },
      { 'POST', '/api/echo', body = 'hello', headers = { ['Content-Type'] = 'text/markdown' } },
      { 'POST', '/api/echo', body = '\0\1\2', headers = { ['Content-Type'] = 'application/octet-stream' } },
      { 'POST', '/api/echo', body = ('z'):rep(11), headers = { ['Content-Type'] = 'application/octet-stream' } },
      { 'POST', '/api/echo', body = '{"s":"' .. ('y'):rep(1100) .. '"}', headers = JSON },
    })
    assert.are.equal(200, r[1].status)
    assert.are.equal(500, #json.decode(r[1].body).body.s)
    assert.are.same({ a = '1', b = { 'x y', '!' } }, json.decode(r[2].body).body)
    assert.are.same({ body = 'hello', kind = 'string' }, json.decode(r[3].body))
    assert.are.equal('\0\1\2', json.decode(r[4].body).body)
    assert.are.equal(413, r[5].status)
    assert.are.equal(413, r[6].status)
  end)

  it('accepts only an object or array unless strict is false', function()
    local r = batch(srv.port, {
      { 'POST', '/echo', body = '"just a string"', headers = JSON },
      { 'POST', '/loose/echo', body = '"just a string"', headers = JSON },
      { 'POST', '/loose/echo', body = '42', headers = JSON },
    })
    assert.are.equal(400, r[1].status)
    assert.are.same({ body = 'just a string' }, json.decode(r[2].body))
    assert.are.same({ body = 42 }, json.decode(r[3].body))
  end)
end)

describe('router body parser options', function()
  local router = require('router')

  it('reads limits in bytes or as 100kb / 1mb strings, and rejects others', function()
    assert.are.equal('function', type(router.json({ limit = '100kb' })))
    assert.are.equal('function', type(router.json({ limit = 10 })))
    local ok, e = pcall(router.json, { limit = 'lots' })
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_VALUE', e.code)
  end)

  it('raises ERR_INVALID_ARG_TYPE for options that are not a table', function()
    local ok, e = pcall(router.json, 'x')
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)
end)

describe('router({ json = false })', function()
  local srv
  setup(function()
    srv = H.serve([==[
local app = require('router')({ json = false })
app:post('/echo', function(req, res)
  res:json({ parsed = rawget(req, 'body') ~= nil, raw = await(req:body()) })
end)
app:listen(0, '127.0.0.1', function() console.log('port', app.server:address().port) end)
]==])
  end)
  teardown(function() if srv then srv:stop() end end)

  it('leaves JSON bodies to the handler', function()
    local r = batch(srv.port, { { 'POST', '/echo', body = '{"a":1}', headers = JSON } })
    assert.are.same({ parsed = false, raw = '{"a":1}' }, json.decode(r[1].body))
  end)
end)

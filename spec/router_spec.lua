-- The router module (API.md "router"): an Express-style app served by a
-- child luster, exercised with python3's http.client.
local H = require('helpers.http')
local batch = require('helpers.batch')
local json = require('json')

local APP = [==[
local app = require('router')({ limit = 200 })
local order = {}
app:use(function(req, res, nxt)
  order = { 'logger' }
  res:setHeader('X-Powered-By', 'luster')
  nxt()
end)
app:use('/admin', function(req, res, nxt)
  if req.headers['x-token'] ~= 'secret' then return res:status(401):send('no') end
  nxt()
end)
app:get('/users/:id', function(req, res)
  res:json({ id = req.params.id, sort = req.query.sort })
end)
app:get('/users/:id/files/:name', function(req, res)
  res:json(req.params)
end)
app:post('/echo', function(req, res)
  res:status(201):json({ body = req.body })
end)
app:put('/thing', function(req, res) res:send('put') end)
app:patch('/thing', function(req, res) res:send('patch') end)
app:delete('/thing', function(req, res) res:send(204) end)
app:all('/any', function(req, res) res:send('any ' .. req.method) end)
app:get('/slow', function(req, res)
  await(Promise.new(function(r) setTimeout(r, 30) end))
  res:send('slow done')
end)
app:get('/chain', function(req, res, nxt)
  order[#order + 1] = 'first'
  nxt()
end, function(req, res)
  order[#order + 1] = 'second'
  res:json(order)
end)
app:get('/admin/panel', function(req, res) res:send('panel') end)
app:get('/boom', function() error({ status = 418, message = 'teapot' }) end)
app:get('/crash', function() error('crash') end)
app:get('/next-error', function(req, res, nxt) nxt({ status = 409 }) end)
app:get('/files/*', function(req, res) res:send(req.params[0]) end)
app:use(function(err, req, res, nxt)
  if err.status == 409 then return res:status(409):json({ handled = true }) end
  nxt(err)
end)
app:listen(0, '127.0.0.1', function() console.log('port', app.server:address().port) end)
]==]

-- Every request of this file, asked once by one client run: test i looks
-- at its answers by name.
local ASK = {
  params = { 'GET', '/users/42?sort=asc' },
  file = { 'GET', '/users/7/files/a%20b.txt' },
  plus = { 'GET', '/users/a+b' },
  echo = { 'POST', '/echo', body = '{"image": "abc", "n": [1, 2]}', headers = { ['Content-Type'] = 'application/json' } },
  bad = { 'POST', '/echo', body = '{"image": ', headers = { ['Content-Type'] = 'application/json' } },
  big = { 'POST', '/echo', body = '"' .. ('x'):rep(300) .. '"', headers = { ['Content-Type'] = 'application/json' } },
  put = { 'PUT', '/thing' }, patch = { 'PATCH', '/thing' }, delete = { 'DELETE', '/thing' },
  any_options = { 'OPTIONS', '/any' }, any_post = { 'POST', '/any' },
  nope = { 'GET', '/nope' }, wrong_method = { 'POST', '/users/1' },
  chain = { 'GET', '/chain' },
  admin = { 'GET', '/admin/panel' }, admin_ok = { 'GET', '/admin/panel', headers = { ['X-Token'] = 'secret' } },
  user = { 'GET', '/users/1' },
  slow = { 'GET', '/slow' },
  boom = { 'GET', '/boom' }, crash = { 'GET', '/crash' }, next_error = { 'GET', '/next-error' },
  files = { 'GET', '/files/a/b/c.txt' }, head = { 'HEAD', '/users/5' },
}

describe('router', function()
  local srv, got = nil, {}
  local function call(name) return got[name] end
  setup(function()
    srv = H.serve(APP)
    local names, list = {}, {}
    for name, q in pairs(ASK) do
      names[#names + 1] = name
      list[#list + 1] = q
    end
    for i, r in ipairs(batch(srv.port, list)) do got[names[i]] = r end
  end)
  teardown(function() if srv then srv:stop() end end)

  it('routes :params and gives req.params and req.query', function()
    local r = call('params')
    assert.are.equal(200, r.status)
    assert.are.same({ id = '42', sort = 'asc' }, json.decode(r.body))
    local f = json.decode(call('file').body)
    assert.are.same({ id = '7', name = 'a b.txt' }, f)
    assert.are.equal('a+b', json.decode(call('plus').body).id) -- '+' is a plus sign in a path
  end)

  it('parses a JSON body into req.body and res:status is chainable', function()
    local r = call('echo')
    assert.are.equal(201, r.status)
    assert.are.equal('application/json', r.headers['content-type'])
    assert.are.same({ body = { image = 'abc', n = { 1, 2 } } }, json.decode(r.body))
  end)

  it('answers 400 to a JSON body that does not parse and 413 to one over the limit', function()
    local r = call('bad')
    assert.are.equal(400, r.status)
    assert.truthy(json.decode(r.body).error)
    local big = call('big')
    assert.are.equal(413, big.status)
  end)

  it('dispatches put, patch, delete and all by method', function()
    assert.are.equal('put', call('put').body)
    assert.are.equal('patch', call('patch').body)
    assert.are.equal(204, call('delete').status)
    assert.are.equal('any OPTIONS', call('any_options').body)
    assert.are.equal('any POST', call('any_post').body)
  end)

  it('answers 404 when nothing matches', function()
    local r = call('nope')
    assert.are.equal(404, r.status)
    assert.are.equal('Cannot GET /nope', r.body)
    assert.are.equal(404, call('wrong_method').status)
  end)

  it('runs middleware in order, with nxt passing to the next handler', function()
    local r = call('chain')
    assert.are.same({ 'logger', 'first', 'second' }, json.decode(r.body))
    assert.are.equal('luster', r.headers['x-powered-by'])
  end)

  it('mounts middleware under a path prefix', function()
    assert.are.equal(401, call('admin').status)
    assert.are.equal('panel', call('admin_ok').body)
    assert.are.equal(200, call('user').status)
  end)

  it('lets handlers await', function()
    assert.are.equal('slow done', call('slow').body)
  end)

  it('turns errors into their status or 500, and error middleware can handle them', function()
    assert.are.equal(418, call('boom').status)
    assert.are.equal(500, call('crash').status)
    local r = call('next_error')
    assert.are.equal(409, r.status)
    assert.are.same({ handled = true }, json.decode(r.body))
    assert.are.equal(200, call('user').status)
  end)

  it('matches wildcards and serves HEAD from GET routes', function()
    assert.are.equal('a/b/c.txt', call('files').body)
    local r = call('head')
    assert.are.equal(200, r.status)
    assert.are.equal('', r.body)
  end)
end)

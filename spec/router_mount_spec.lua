-- Mounting in the router (issue 8 §6): app:use('/api', router) strips the
-- prefix, nested routers, params in mount paths, middleware on a prefix,
-- and Express's req.url / req.path / req.baseUrl / req.originalUrl.
local H = require('helpers.http')
local batch = require('helpers.batch')
local json = require('json')

local APP = [==[
local router = require('router')
local app = router()

local function where(req, res)
  res:json({ url = req.url, path = req.path, baseUrl = req.baseUrl, originalUrl = req.originalUrl,
    params = req.params })
end

local api = router.Router()
api:get('/', where)
api:get('/items/:id', where)
api:use('/deep', function(req, res, nxt) res:set('X-Deep', req.baseUrl .. '|' .. req.url) nxt() end)

local v1 = router.Router()
v1:get('/thing', where)
api:use('/v1', v1)

local users = router.Router({ mergeParams = true })
users:get('/posts/:post', where)
local plain = router.Router()
plain:get('/posts/:post', where)

app:use('/api', api)
app:use('/users/:uid', users)
app:use('/plain/:uid', plain)
app:use('/admin', function(req, res, nxt)
  if req.headers['x-token'] ~= 'secret' then return res:status(401):send('no') end
  nxt()
end)
app:get('/admin/panel', where)
app:use('/mw', function(req, res) where(req, res) end)
app:get('/after', function(req, res) res:json({ url = req.url, baseUrl = req.baseUrl }) end)

-- a router that passes on: the app's later layers see the url restored
local pass = router.Router()
pass:use(function(req, res, nxt) res:set('X-Seen', req.url) nxt() end)
app:use('/pass', pass)
app:get('/pass/on', function(req, res) res:json({ url = req.url, baseUrl = req.baseUrl }) end)

-- nxt('router') leaves a router at once
local leave = router.Router()
leave:use(function(req, res, nxt) nxt('router') end)
leave:get('/x', function(req, res) res:send('not here') end)
app:use('/leave', leave)
app:get('/leave/x', function(req, res) res:send('left') end)

-- case: insensitive by default, as Express; params keep their case
local cased = router.Router({ caseSensitive = true })
cased:get('/Exact', function(req, res) res:send('exact') end)
app:use('/Cased', cased)
app:get('/Shout/:Name', function(req, res) res:json({ name = req.params.Name, baseUrl = req.baseUrl }) end)
local mixed = router.Router()
mixed:get('/inner', where)
app:use('/MiXeD', mixed)

-- a router as a route handler: its own params, the route's restored after
local inner = router.Router()
inner:use(function(req, res, nxt) res:set('X-Router', tostring(req.params.id)) nxt() end)
app:get('/member/:id', function(req, res, nxt) res:set('X-User-Id', req.params.id) nxt() end, inner,
  function(req, res) res:send(req.params.id) end)

-- errors raised in a sub-router reach the app's error handler
local failing = router.Router()
failing:get('/boom', function() error({ status = 422, message = 'nope' }) end)
app:use('/failing', failing)
app:use(function(err, req, res, nxt)
  res:status(err.status or 500):json({ caught = err.message, url = req.url, baseUrl = req.baseUrl })
end)
app:listen(0, '127.0.0.1', function() console.log('port', app.server:address().port) end)
]==]

describe('router mounting', function()
  local srv, r
  setup(function()
    srv = H.serve(APP)
    r = batch(srv.port, {
      { 'GET', '/api/items/7?x=1' },      -- 1
      { 'GET', '/api' },                  -- 2
      { 'GET', '/api/?q=2' },             -- 3
      { 'GET', '/api/v1/thing' },         -- 4
      { 'GET', '/users/42/posts/9' },     -- 5
      { 'GET', '/plain/42/posts/9' },     -- 6
      { 'GET', '/admin/panel' },          -- 7
      { 'GET', '/admin/panel', headers = { ['X-Token'] = 'secret' } }, -- 8
      { 'GET', '/mw/a/b?c=d' },           -- 9
      { 'GET', '/mwx' },                  -- 10
      { 'GET', '/pass/on' },              -- 11
      { 'GET', '/leave/x' },              -- 12
      { 'GET', '/failing/boom' },         -- 13
      { 'GET', '/apix/items/7' },         -- 14
      { 'GET', '/api/deep/x' },           -- 15
      { 'GET', '/users/a%2Fb/posts/x%20y' }, -- 16
      { 'GET', '/users/%zz/posts/1' },    -- 17
      { 'GET', '/shout/Ann' }, { 'GET', '/SHOUT/Bob/' },        -- 18-19
      { 'GET', '/cased/Exact' }, { 'GET', '/cased/exact' },     -- 20-21
      { 'GET', '/mixed/INNER' },          -- 22
      { 'GET', '/member/1' },             -- 23
    })
  end)
  teardown(function() if srv then srv:stop() end end)
  local function body(i) return json.decode(r[i].body) end

  it('strips the mount path: req.url and req.path are relative, baseUrl and originalUrl as Express', function()
    assert.are.same({ url = '/items/7?x=1', path = '/items/7', baseUrl = '/api', originalUrl = '/api/items/7?x=1',
      params = { id = '7' } }, body(1))
  end)

  it('gives / inside a router mounted at the exact path', function()
    assert.are.equal('/', body(2).url)
    assert.are.equal('/api', body(2).baseUrl)
    assert.are.equal('/?q=2', body(3).url)
    assert.are.equal('/api/?q=2', body(3).originalUrl)
  end)

  it('nests routers, joining their base urls', function()
    assert.are.same({ url = '/thing', path = '/thing', baseUrl = '/api/v1', originalUrl = '/api/v1/thing',
      params = {} }, body(4))
  end)

  it('matches params in mount paths; mergeParams shows them to the router', function()
    assert.are.same({ uid = '42', post = '9' }, body(5).params)
    assert.are.equal('/users/42', body(5).baseUrl)
    assert.are.same({ post = '9' }, body(6).params)
    assert.are.same({ uid = 'a/b', post = 'x y' }, body(16).params)
    assert.are.equal(400, r[17].status)
  end)

  it('runs middleware on a prefix only for paths under it', function()
    assert.are.equal(401, r[7].status)
    assert.are.equal(200, r[8].status)
    assert.are.equal('/admin/panel', body(8).path) -- a route is not stripped
    assert.are.same({ url = '/a/b?c=d', path = '/a/b', baseUrl = '/mw', originalUrl = '/mw/a/b?c=d', params = {} },
      body(9))
    assert.are.equal(404, r[10].status) -- /mwx is not under /mw
    assert.are.equal(404, r[14].status)
  end)

  it('restores req.url when a router passes on', function()
    assert.are.equal('/on', r[11].headers['x-seen'])
    assert.are.same({ url = '/pass/on', baseUrl = '' }, body(11))
    assert.are.equal('/api/deep|/x', r[15].headers['x-deep'])
  end)

  it('matches paths case-insensitively unless caseSensitive, keeping the case of params and urls', function()
    assert.are.same({ name = 'Ann', baseUrl = '' }, body(18))
    assert.are.same({ name = 'Bob', baseUrl = '' }, body(19))
    assert.are.equal('exact', r[20].body)
    assert.are.equal(404, r[21].status)
    assert.are.same({ url = '/INNER', path = '/INNER', baseUrl = '/mixed', originalUrl = '/mixed/INNER', params = {} },
      body(22))
  end)

  it('takes a router as a route handler and restores req.params after it', function()
    assert.are.equal('nil', r[23].headers['x-router'])
    assert.are.equal('1', r[23].headers['x-user-id'])
    assert.are.equal('1', r[23].body)
  end)

  it('leaves a router with nxt("router")', function()
    assert.are.equal('left', r[12].body)
  end)

  it('passes errors from a router to the app\'s error handlers, with the url restored', function()
    assert.are.equal(422, r[13].status)
    assert.are.same({ caught = 'nope', url = '/failing/boom', baseUrl = '' }, body(13))
  end)
end)

describe('router mounting arguments', function()
  local router = require('router')
  it('raises ERR_INVALID_ARG_TYPE for something that is neither a function nor a router', function()
    local ok, e = pcall(function() router():use('/x', 42) end)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)
  it('takes arrays of handlers and routers', function()
    local app = router()
    app:use('/a', { function() end, router.Router() }, function() end)
    assert.are.equal(3, #app.stack)
  end)
end)

-- res:json's Content-Type (set unless the handler set one, by setHeader
-- or writeHead, in any case), and the request fields of a router served by
-- app:listen, whose server makes them present from the start (false until
-- the router sets them): what handlers see is the same.
local http = require('http')
local json = require('json')

local function get(port, path)
  return await(fetch('http://127.0.0.1:' .. port .. path))
end

describe('res:json', function()
  local server, port
  setup(function()
    server = http.createServer(function(req, res)
      if req.url == '/plain' then
        res:json({ a = 1 })
      elseif req.url == '/typed' then
        res:setHeader('content-TYPE', 'application/vnd.api+json')
        res:json({ a = 2 })
      elseif req.url == '/raw' then
        res:writeHead(201, { ['Content-Type'] = 'text/x-json' })
        res:json({ a = 3 })
      else
        res:setHeader('X-Other', 'yes')
        res:json({ a = 4 }, 202)
      end
    end)
    await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
    port = server:address().port
  end)
  teardown(function() server:close() end)

  it('sets application/json unless a Content-Type was set', function()
    local r = get(port, '/plain')
    assert.are.equal('application/json', r.headers:get('content-type'))
    assert.are.same({ a = 1 }, json.decode(await(r:text())))
    r = get(port, '/typed')
    assert.are.equal('application/vnd.api+json', r.headers:get('content-type'))
    r = get(port, '/raw')
    assert.are.equal(201, r.status)
    assert.are.equal('text/x-json', r.headers:get('content-type'))
    assert.are.same({ a = 3 }, json.decode(await(r:text())))
    r = get(port, '/other')
    assert.are.equal(202, r.status)
    assert.are.equal('yes', r.headers:get('x-other'))
    assert.are.equal('application/json', r.headers:get('content-type'))
  end)
end)

describe('a router served by app:listen', function()
  it('gives handlers the request fields Express gives', function()
    local app = require('router')()
    local api = require('router').Router()
    local seen = {}
    app:use(function(req, res, nxt)
      seen.mw = { base = req.baseUrl, orig = req.originalUrl, app = req.app == app, params = next(req.params) }
      nxt()
    end)
    api:get('/items/:id', function(req, res)
      res:json({ base = req.baseUrl, orig = req.originalUrl, url = req.url, id = req.params.id, app = req.app == app })
    end)
    app:use('/api', api)
    local server = app:listen(0, '127.0.0.1')
    await(Promise.new(function(resolve) server:once('listening', resolve) end))
    local port = server:address().port
    local r = get(port, '/api/items/7?x=1')
    assert.are.same({ base = '/api', orig = '/api/items/7?x=1', url = '/items/7?x=1', id = '7', app = true },
      json.decode(await(r:text())))
    assert.are.same({ base = '', orig = '/api/items/7?x=1', app = true }, seen.mw)
    r = get(port, '/nothing')
    assert.are.equal(404, r.status)
    assert.are.equal('Cannot GET /nothing', await(r:text()))
    server:close()
  end)
end)

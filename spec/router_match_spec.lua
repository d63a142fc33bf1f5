-- Route matching and the walk through the stack, in process (app:handle
-- on plain tables): a one-param route is matched without its pattern
-- (lua/luster/router_route.lua, match_simple) and must match exactly what
-- the pattern matches; every request has its own `nxt`, which a handler
-- may keep and call later.
local router = require('router')
local route_lib = require('luster.router_route')

-- A fake request and response: what the router and these handlers touch.
local function request(method, url)
  return { method = method, url = url, path = (url:gsub('%?.*', '')), headers = {}, complete = true }
end
local function response()
  local res = { finished = false, statusCode = 200, headers = {} }
  function res:setHeader(k, v) self.headers[k:lower()] = v end
  function res:finish(body) self.finished, self.body = true, body end
  return res
end

describe('router matching', function()
  it('matches a one-param route exactly where its pattern matches', function()
    local routes = { '/users/:id', '/users/:id/posts', '/Users/:id/', '/a.b/:x/c-d', '/:id', '/x%/:y/z' }
    local parts = { '', 'users', 'USERS', 'Users', '42', '4%2F2', '%zz', 'posts', 'POSTS', 'a.b', 'c-d', 'aXb', 'x%', 'z' }
    local rnd = 12345
    local function random(n) rnd = (rnd * 1103515245 + 12345) % 2147483648 return rnd % n + 1 end
    for _, case_sensitive in ipairs({ false, true }) do
      local app = router({ caseSensitive = case_sensitive })
      for _, path in ipairs(routes) do app:get(path, function() end) end
      local checked, matched = 0, 0
      for li, layer in ipairs(app.stack) do
        assert.is_string(layer.pre, routes[li]) -- each of these takes the fast path
        local by_pattern = setmetatable({ pre = false }, { __index = layer })
        for _ = 1, 400 do
          local segs = {}
          for i = 1, random(4) do segs[i] = parts[random(#parts)] end
          local path = '/' .. table.concat(segs, '/')
          local lpath = case_sensitive and path or path:lower()
          local p1, e1 = route_lib.match_route(layer, path, lpath)
          local p2, e2 = route_lib.match_route(by_pattern, path, lpath)
          assert.are.same(p2, p1, routes[li] .. ' on ' .. path)
          assert.are.equal(e2 ~= nil, e1 ~= nil, routes[li] .. ' on ' .. path)
          if e1 then assert.are.equal(400, e1.status) end
          checked, matched = checked + 1, matched + (p1 and 1 or 0)
        end
      end
      assert.is_true(matched > 20 and matched < checked) -- the paths hit and miss
    end
  end)

  it('leaves other routes to their pattern', function()
    for _, path in ipairs({ '/:from-:to', '/files/*', '/a/:b/:c', '/f/:name.json', '/a:/:b' }) do
      local app = router()
      app:get(path, function() end)
      assert.is_nil(app.stack[1].pre, path)
    end
  end)
end)

describe('router nxt', function()
  it('gives each request its own nxt, which a handler may keep and call later', function()
    local app = router()
    local kept = {}
    app:use(function(req, res, nxt) kept[#kept + 1] = nxt end)
    app:get('/users/:id', function(req, res) res:finish('user ' .. req.params.id) end)
    local reqs, ress = {}, {}
    for i = 1, 3 do
      reqs[i], ress[i] = request('GET', '/users/' .. i), response()
      app:handle(reqs[i], ress[i])
      assert.is_false(ress[i].finished)
    end
    assert.are.equal(3, #kept)
    assert.are.equal('function', type(kept[1]))
    assert.are_not.equal(kept[1], kept[2])
    for i = 3, 1, -1 do kept[i]() end
    for i = 1, 3 do assert.are.equal('user ' .. i, ress[i].body) end
  end)

  it('passes over thousands of layers that do not match', function()
    local app = router()
    for i = 1, 20000 do app:use('/other' .. i, function(req, res, nxt) nxt() end) end
    for i = 1, 20000 do app:get('/nope' .. i, function(req, res) end) end
    app:get('/end', function(req, res) res:finish('end') end)
    local res = response()
    app:handle(request('GET', '/end'), res)
    assert.are.equal('end', res.body)
  end)

end)

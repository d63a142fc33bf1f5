--- The server and client helpers shared by spec/http_node_spec.lua and
--- spec/http_node_events_spec.lua: one child-process server with a route
--- per behaviour (what a handler observes comes back as JSON, or as notes
--- fetched from /seen?id=), and raw-socket clients.
---
---   local N = require('helpers.http_node')
---   setup(N.start) teardown(N.stop)
---   local reply = N.get('/route')      -- everything received, ending in <EOF>
local H = require('helpers.http')
local json = require('json')

local M = {}

M.SERVER = [==[
local http = require('http')
local json = require('json')

-- what handlers and late listeners saw, by ?id=
local seen = {}
local function note(id, what)
  local t = seen[id] or {}
  seen[id] = t
  t[#t + 1] = what
end
local function code_of(f, ...)
  local ok, err = pcall(f, ...)
  if ok then return 'no error' end
  return type(err) == 'table' and err.code or tostring(err)
end

local routes = {}

routes['/seen'] = function(req, res) res:json(seen[req.query.id] or {}) end

routes['/double-writehead'] = function(req, res)
  res:writeHead(200, { ['X-First'] = '1' })
  local code = code_of(res.writeHead, res, 201)
  local code_1xx = code_of(res.writeHead, res, 102)
  res:finish(code .. ' ' .. code_1xx)
end

routes['/status-after-writehead'] = function(req, res)
  res:writeHead(201, { ['X-A'] = '1' })
  res.statusCode = 500
  res.statusMessage = 'Changed'
  res:finish(tostring(res.statusCode))
end

routes['/informational'] = function(req, res)
  res:writeHead(102)
  local after = { status = res.statusCode, sent = res.headersSent }
  res:writeProcessing()
  res:writeHead(103, { Link = '</x.css>; rel=preload' })
  res:setHeader('X-Final', 'yes')
  res:finish(json.encode(after))
end

routes['/early-hints'] = function(req, res)
  local kind = req.query.kind
  if kind == 'string' then res:writeEarlyHints('</a.css>; rel=preload')
  elseif kind == 'list' then res:writeEarlyHints({ '</a.css>; rel=preload', '</b.js>; rel=preload' })
  elseif kind == 'table' then res:writeEarlyHints({ link = { '</a.css>; rel=preload' }, ['X-Trace'] = 't1' })
  elseif kind == 'empty' then res:writeEarlyHints({}); res:writeEarlyHints({ link = {} })
  end
  res:finish('done')
end

routes['/continue'] = function(req, res)
  res:writeContinue()
  local body = await(req:body())
  res:finish('got ' .. body)
end

routes['/validation'] = function(req, res)
  local r = {
    get_nil = code_of(res.getHeader, res), get_number = code_of(res.getHeader, res, 1),
    has_table = code_of(res.hasHeader, res, {}), has_bool = code_of(res.hasHeader, res, true),
    remove_nil = code_of(res.removeHeader, res),
    set_nil_name = code_of(res.setHeader, res, nil, 'x'),
    set_bad_name = code_of(res.setHeader, res, 'Bad Name', 'x'),
    set_colon_name = code_of(res.setHeader, res, 'X:Y', 'x'),
    set_empty_name = code_of(res.setHeader, res, '', 'x'),
    set_nil_value = code_of(res.setHeader, res, 'X-A'),
    set_crlf = code_of(res.setHeader, res, 'X-A', 'a\r\nInjected: yes'),
    set_lf = code_of(res.setHeader, res, 'X-A', 'a\nb'),
    set_nul = code_of(res.setHeader, res, 'X-A', 'a\0b'),
    set_list_cr = code_of(res.setHeader, res, 'Set-Cookie', { 'a=1', 'b=2\r' }),
    head_cr = code_of(res.writeHead, res, 200, { ['X-A'] = 'a\rb' }),
    head_bad_name = code_of(res.writeHead, res, 200, { ['Bad Name'] = 'x' }),
    head_flat_lf = code_of(res.writeHead, res, 200, { 'X-A', 'a\nb' }),
    head_many_lf = code_of(res.writeHead, res, 200, { A = '1', B = '2', C = '3', D = '4', E = '5', F = 'a\nb' }),
    head_many_name = code_of(res.writeHead, res, 200, { A = '1', B = '2', C = '3', D = '4', ['E F'] = '5' }),
    head_many_list = code_of(res.writeHead, res, 200, { A = '1', B = '2', C = '3', D = '4', E = { 'ok', 'a\rb' } }),
    hints_lf = code_of(res.writeEarlyHints, res, 'a\nb'),
    tab_ok = code_of(res.setHeader, res, 'X-Tab', 'a\tb'),
    utf8_ok = code_of(res.setHeader, res, 'X-Utf8', 'caf\195\169'),
    write_table = code_of(res.write, res, {}), write_bool = code_of(res.write, res, true),
    finish_table = code_of(res.finish, res, {}),
    sent_after_failures = res.headersSent,
  }
  for _, bad in ipairs({ 99, 1000, -1, 0, 200.5, math.huge, 0 / 0, '200', true, {} }) do
    r['status_' .. tostring(bad)] = code_of(res.writeHead, res, bad)
  end
  res:json(r)
end

routes['/status-code-late'] = function(req, res)
  res.statusCode = tonumber(req.query.code)
  res:finish('x')
end

routes['/headers'] = function(req, res)
  local before = { headers = res:getHeaders(), names = res:getHeaderNames(), has = res:hasHeader('Connection') }
  res:setHeader('x-test-header', 'testing')
  res:setHeader('X-TEST-HEADER2', 'testing')
  res:setHeader('Set-Cookie', { 'a=1; path=/', 'b=2' })
  res:setHeader('X-Numbers', { 1, 2, 3 })
  res:setHeader('X-Length', 12)
  local names = res:getHeaderNames()
  table.sort(names)
  local r = {
    before = before, headers = res:getHeaders(), names = names,
    get_mixed = res:getHeader('X-Test-Header'), get_cookie = res:getHeader('SET-COOKIE'),
    get_number = res:getHeader('x-length'),
    has_upper = res:hasHeader('X-TEST-HEADER2'), has_lower = res:hasHeader('x-test-header2'),
  }
  res:removeHeader('X-Test-Header2')
  r.has_removed = res:hasHeader('x-test-header2')
  r.get_removed = res:getHeader('x-test-header2')
  res:appendHeader('X-Appended', 'one')
  res:appendHeader('x-appended', { 'two', 'three' })
  res:appendHeader('Set-Cookie', 'c=3')
  r.appended = res:getHeader('X-Appended')
  r.append_bad = code_of(res.appendHeader, res, 'X-Bad', 'a\nb')
  res:finish(json.encode(r))
end

routes['/merge'] = function(req, res)
  res.statusCode = 404
  res:setHeader('X-Foo', 'keyboard cat')
  res:setHeader('X-Keep', 'kept')
  res:writeHead(200, { ['x-foo'] = 'bar', ['X-Bar'] = 'baz' })
  res.statusCode = 201
  res:finish(res:getHeader('x-foo'))
end

routes['/status-message'] = function(req, res)
  local id, code = req.query.id, tonumber(req.query.code)
  local before = tostring(res.statusMessage)
  if req.query.head then res:writeHead(code) else res.statusCode = code end
  note(id, before .. ' / ' .. tostring(res.statusMessage))
  res:finish('x')
  note(id, tostring(res.statusMessage))
end

routes['/chain'] = function(req, res)
  res:setHeader('X-Set', 's'):appendHeader('X-App', 'a'):writeHead(202, { ['X-Head'] = 'h' }):finish('chained')
end

routes['/writehead-flat'] = function(req, res)
  res:writeHead(200, 'Fine Thanks', { 'X-One', '1', 'X-Two', '2' })
  res:finish(res.statusMessage)
end

routes['/no-date'] = function(req, res)
  if req.query.how == 'remove' then res:removeHeader('Date') else res.sendDate = false end
  res:finish('dateless')
end

routes['/own-date'] = function(req, res)
  res:setHeader('Date', 'Thu, 01 Jan 1970 00:00:00 GMT')
  res:finish('dated')
end

routes['/sent-timing'] = function(req, res)
  local r = { initially = res.headersSent }
  res:setHeader('X-A', '1')
  r.after_set = res.headersSent
  res:write('a')
  r.after_write = res.headersSent
  r.set_after_write = code_of(res.setHeader, res, 'X-B', '2')
  r.remove_after_write = code_of(res.removeHeader, res, 'X-A')
  r.writehead_after_write = code_of(res.writeHead, res, 200)
  res:finish(json.encode(r))
end

routes['/flush'] = function(req, res)
  res:setHeader('X-Flushed', 'yes')
  res:flushHeaders()
  local sent = res.headersSent
  res:flushHeaders()
  res:finish(tostring(sent))
end

routes['/strict-length'] = function(req, res)
  res.strictContentLength = true
  local n = tonumber(req.query.n)
  res:setHeader('Content-Length', 6)
  if req.query.status then res.statusCode = tonumber(req.query.status) end
  local r = {}
  if n > 6 then
    r.write = code_of(res.write, res, ('x'):rep(n))
    r.short = code_of(res.finish, res, 'abc')
    r.sent = res.headersSent
    res:setHeader('Content-Length', 3)
  end
  res:finish(n <= 6 and ('x'):rep(n) or 'abc')
  r.finished = res.finished
  if n > 6 then console.log('strict-length ' .. json.encode(r)) end
end

routes['/own-length'] = function(req, res)
  res:setHeader('Content-Length', 6)
  res:write('abc')
  res:finish('def')
end

routes['/write-after-end'] = function(req, res)
  local id = req.query.id
  if req.query.listen then
    res:on('error', function(e) note(id, 'error ' .. e.code) end)
    res:finish('x')
    local ret = res:write('y')
    note(id, 'write returned ' .. tostring(ret))
  else
    res:finish('x')
    note(id, code_of(res.write, res, 'y'))
  end
  note(id, 'finish again: ' .. code_of(res.finish, res, 'z'))
end

routes['/bodiless'] = function(req, res)
  res.statusCode = tonumber(req.query.code)
  res:write('should not be sent')
  res:finish('nor this')
end

routes['/late-listeners'] = function(req, res)
  local id = req.query.id
  res:finish('ok')
  res:on('finish', function() note(id, 'res finish') end)
  res:on('close', function() note(id, 'res close') end)
  req:on('close', function() note(id, 'req close') end)
  note(id, 'handler returned')
end

routes['/late-listener-next-turn'] = function(req, res)
  local id = req.query.id
  res:finish('ok')
  setTimeout(function()
    res:on('finish', function() note(id, 'res finish') end)
    note(id, 'timer ran')
  end, 1)
end

routes['/finish-order'] = function(req, res)
  local id = req.query.id
  res:on('finish', function() note(id, 'finish') end)
  res:finish('ok')
  note(id, 'finish returned')
end

routes['/listener-raises'] = function(req, res)
  res:on('finish', function() error('finish listener exploded') end)
  res:finish('ok')
end

routes['/destroyed'] = function(req, res)
  local id = req.query.id
  res:on('close', function()
    note(id, 'close, write returns ' .. tostring(res:write('late')))
  end)
  res:write('partial')
  res:destroy()
end

routes['/hang'] = function(req, res)
  local id = req.query.id
  res:on('close', function() note(id, 'res close finished=' .. tostring(res.finished)) end)
  req:on('close', function() note(id, 'req close aborted=' .. tostring(req.aborted)) end)
  req:on('aborted', function() note(id, 'req aborted') end)
  if req.query.write then res:write('partial') end
end

routes['/request-info'] = function(req, res)
  local complete_at_start = req.complete
  local body = await(req:body())
  res:json({ rawHeaders = req.rawHeaders, complete_at_start = complete_at_start,
    complete = req.complete, aborted = req.aborted, body = body,
    major = req.httpVersionMajor, minor = req.httpVersionMinor })
end

local server = http.createServer(function(req, res)
  local route = routes[req.path]
  if route then return route(req, res) end
  res.statusCode = 404
  res:finish('no route')
end)
server:listen(0, '127.0.0.1', function() console.log('port', server:address().port) end)
]==]

local srv
function M.start() srv = H.serve(M.SERVER); M.srv = srv end
function M.stop() if srv then srv:stop() end end

local function raw(bytes, opts) return H.raw(srv.port, bytes, opts) end
M.raw = raw
local function get(path, extra)
  return raw('GET ' .. path .. ' HTTP/1.1\r\nHost: x\r\n' .. (extra or '') .. 'Connection: close\r\n\r\n')
end
M.get = get

--- The body of the final response (after any 1xx heads).
local function body_of(reply)
  local rest = reply
  while rest:match('^HTTP/1%.1 1%d%d ') do rest = rest:match('^.-\r\n\r\n(.*)$') end
  return rest:match('\r\n\r\n(.*)<EOF>$')
end
M.body_of = body_of
function M.head_of(reply) return reply:match('^(.-\r\n)\r\n') end

local ids = 0
--- A fresh id for notes (/seen?id=).
function M.new_id() ids = ids + 1; return 'id' .. ids end
local function seen(id) return json.decode(body_of(get('/seen?id=' .. id))) end
M.seen = seen
--- Poll the notes of `id` until `n` arrived (late events come after the response).
function M.seen_n(id, n)
  local t
  for _ = 1, 100 do
    t = seen(id)
    if #t >= n then return t end
    os.execute('sleep 0.02')
  end
  return t
end

return M

-- The response side of the http server as Node's own tests pin it
-- (test/parallel/test-http-response-*, test-http-outgoing-*,
-- test-http-write-head*, test-http-mutable-headers, test-http-early-hints,
-- test-http-req-res-close; ported, not copied).  The server runs in a child
-- process; what a handler observes comes back as JSON, what it sends is
-- read off the wire with a raw socket.  Server-level behaviours are in
-- spec/http_node_server_spec.lua.
local H = require('helpers.http')
local json = require('json')

local SERVER = [==[
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
local function raw(bytes, opts) return H.raw(srv.port, bytes, opts) end
local function get(path, extra)
  return raw('GET ' .. path .. ' HTTP/1.1\r\nHost: x\r\n' .. (extra or '') .. 'Connection: close\r\n\r\n')
end
-- the body of the final response (after any 1xx heads)
local function body_of(reply)
  local rest = reply
  while rest:match('^HTTP/1%.1 1%d%d ') do rest = rest:match('^.-\r\n\r\n(.*)$') end
  return rest:match('\r\n\r\n(.*)<EOF>$')
end
local function head_of(reply) return reply:match('^(.-\r\n)\r\n') end
local ids = 0
local function new_id() ids = ids + 1; return 'id' .. ids end
local function seen(id)
  return json.decode(body_of(get('/seen?id=' .. id)))
end
-- poll /seen until `n` notes arrived (late events come after the response)
local function seen_n(id, n)
  local t
  for _ = 1, 100 do
    t = seen(id)
    if #t >= n then return t end
    os.execute('sleep 0.02')
  end
  return t
end

describe('http response (Node behaviours)', function()
  setup(function() srv = H.serve(SERVER) end)
  teardown(function() if srv then srv:stop() end end)

  describe('writeHead', function()
    it('raises ERR_HTTP_HEADERS_SENT when called a second time, 1xx included, and sends the first', function()
      local reply = get('/double-writehead')
      assert.matches('^HTTP/1%.1 200 OK\r\n', reply)
      assert.truthy(reply:find('X-First: 1\r\n', 1, true))
      assert.are.equal('ERR_HTTP_HEADERS_SENT ERR_HTTP_HEADERS_SENT', body_of(reply))
    end)

    it('sends the status it was given whatever statusCode and statusMessage become later', function()
      local reply = get('/status-after-writehead')
      assert.matches('^HTTP/1%.1 201 Created\r\n', reply)
      assert.are.equal('500', body_of(reply))
    end)

    it('merges its headers over the ones setHeader set, its own winning', function()
      local reply = get('/merge')
      assert.matches('^HTTP/1%.1 200 OK\r\n', reply)
      local head = head_of(reply)
      assert.truthy(head:find('\r\nx%-foo: bar\r\n'))
      assert.falsy(head:find('keyboard cat', 1, true))
      assert.truthy(head:find('\r\nX%-Keep: kept\r\n'))
      assert.truthy(head:find('\r\nX%-Bar: baz\r\n'))
      assert.are.equal('bar', body_of(reply))
    end)

    it('returns the response, as setHeader and appendHeader do, so calls chain', function()
      local reply = get('/chain')
      assert.matches('^HTTP/1%.1 202 Accepted\r\n', reply)
      for _, line in ipairs({ 'X-Set: s', 'X-App: a', 'X-Head: h' }) do
        assert.truthy(reply:find('\r\n' .. line .. '\r\n', 1, true), line)
      end
      assert.are.equal('chained', body_of(reply))
    end)

    it('takes a reason and a flat list of headers', function()
      local reply = get('/writehead-flat')
      assert.matches('^HTTP/1%.1 200 Fine Thanks\r\n', reply)
      assert.truthy(reply:find('\r\nX-One: 1\r\n', 1, true))
      assert.truthy(reply:find('\r\nX-Two: 2\r\n', 1, true))
      assert.are.equal('Fine Thanks', body_of(reply))
    end)

    it('refuses status codes below 100, above 999, fractional or not numbers', function()
      local r = json.decode(body_of(get('/validation')))
      for _, k in ipairs({ '99', '1000', '-1', '0', '200.5', 'inf', 'nan', '-nan', '200', 'true' }) do
        if r['status_' .. k] then assert.are.equal('ERR_HTTP_INVALID_STATUS_CODE', r['status_' .. k], k) end
      end
      assert.are.equal('ERR_HTTP_INVALID_STATUS_CODE', r.status_99)
      assert.are.equal('ERR_HTTP_INVALID_STATUS_CODE', r.status_1000)
      assert.are.equal('ERR_HTTP_INVALID_STATUS_CODE', r['status_200.5'])
      assert.are.equal('ERR_HTTP_INVALID_STATUS_CODE', r.status_200)
      assert.are.equal('ERR_HTTP_INVALID_STATUS_CODE', r.status_inf)
    end)

    it('refuses an invalid statusCode set directly, when the response is sent', function()
      assert.matches('^HTTP/1%.1 500 ', get('/status-code-late?code=1000'))
      assert.matches('^HTTP/1%.1 500 ', get('/status-code-late?code=42'))
      assert.matches('^HTTP/1%.1 418 ', get('/status-code-late?code=418'))
      assert.truthy(srv:stderr():find('ERR_HTTP_INVALID_STATUS_CODE', 1, true))
    end)
  end)

  describe('informational responses', function()
    it('sends writeHead(1xx), writeProcessing and 103 at once and the final status still follows', function()
      local reply = get('/informational')
      local parts = {}
      for status in reply:gmatch('HTTP/1%.1 (%d+ [^\r]*)\r\n') do parts[#parts + 1] = status end
      assert.are.same({ '102 Processing', '102 Processing', '103 Early Hints', '200 OK' }, parts)
      assert.truthy(reply:find('HTTP/1.1 103 Early Hints\r\nLink: </x.css>; rel=preload\r\n\r\n', 1, true))
      -- an informational head has no Date, no framing, none of the final headers
      local first = reply:match('^(.-\r\n\r\n)')
      assert.are.equal('HTTP/1.1 102 Processing\r\n\r\n', first)
      assert.truthy(reply:find('X-Final: yes\r\n', 1, true))
      assert.are.same({ status = 200, sent = false }, json.decode(body_of(reply)))
    end)

    it('sends early hints from a string, a list (joined) or a table with link and other headers', function()
      assert.truthy(get('/early-hints?kind=string'):find(
        '^HTTP/1%.1 103 Early Hints\r\nLink: </a%.css>; rel=preload\r\n\r\nHTTP/1%.1 200 OK\r\n'))
      assert.truthy(get('/early-hints?kind=list'):find(
        'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload, </b.js>; rel=preload\r\n\r\n', 1, true))
      local t = get('/early-hints?kind=table')
      local hints = t:match('^HTTP/1%.1 103 Early Hints\r\n(.-\r\n)\r\n')
      assert.truthy(hints:find('Link: </a.css>; rel=preload\r\n', 1, true))
      assert.truthy(hints:find('X-Trace: t1\r\n', 1, true))
    end)

    it('sends nothing for early hints without a link', function()
      assert.matches('^HTTP/1%.1 200 OK\r\n', get('/early-hints?kind=empty'))
    end)

    it('sends writeContinue once, also when the request expected it', function()
      local plain = raw('POST /continue HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi')
      assert.matches('^HTTP/1%.1 100 Continue\r\n\r\nHTTP/1%.1 200 OK\r\n', plain)
      local req = 'POST /continue HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n'
      local expected = raw(req .. 'hi', { cuts = { #req } })
      assert.matches('^HTTP/1%.1 100 Continue\r\n\r\nHTTP/1%.1 200 OK\r\n', expected)
      assert.are.equal(1, select(2, expected:gsub('100 Continue', '')))
      assert.truthy(expected:find('\r\n\r\ngot hi<EOF>$'))
    end)

    it('sends no informational response to an HTTP/1.0 client', function()
      local reply = raw('GET /informational HTTP/1.0\r\n\r\n')
      assert.matches('^HTTP/1%.1 200 OK\r\n', reply)
      assert.falsy(reply:find('102', 1, true))
    end)
  end)

  describe('header validation', function()
    local r
    setup(function() r = json.decode(body_of(get('/validation'))) end)

    it('checks the name argument of getHeader, hasHeader and removeHeader with ERR_INVALID_ARG_TYPE', function()
      for _, k in ipairs({ 'get_nil', 'get_number', 'has_table', 'has_bool', 'remove_nil' }) do
        assert.are.equal('ERR_INVALID_ARG_TYPE', r[k], k)
      end
    end)

    it('refuses names that are not HTTP tokens with ERR_INVALID_HTTP_TOKEN', function()
      for _, k in ipairs({ 'set_nil_name', 'set_bad_name', 'set_colon_name', 'set_empty_name', 'head_bad_name',
        'head_many_name' }) do
        assert.are.equal('ERR_INVALID_HTTP_TOKEN', r[k], k)
      end
    end)

    it('refuses a missing value with ERR_HTTP_INVALID_HEADER_VALUE', function()
      assert.are.equal('ERR_HTTP_INVALID_HEADER_VALUE', r.set_nil_value)
    end)

    it('refuses CR, LF and NUL in values at once with ERR_INVALID_CHAR, in setHeader, writeHead and hints', function()
      for _, k in ipairs({ 'set_crlf', 'set_lf', 'set_nul', 'set_list_cr', 'head_cr', 'head_flat_lf', 'hints_lf',
        'head_many_lf', 'head_many_list' }) do
        assert.are.equal('ERR_INVALID_CHAR', r[k], k)
      end
      assert.is_false(r.sent_after_failures)
    end)

    it('refuses a body piece that is not a string or number with ERR_INVALID_ARG_TYPE', function()
      assert.are.equal('ERR_INVALID_ARG_TYPE', r.write_table)
      assert.are.equal('ERR_INVALID_ARG_TYPE', r.write_bool)
      assert.are.equal('ERR_INVALID_ARG_TYPE', r.finish_table)
    end)

    it('accepts tabs and non-ASCII bytes in values', function()
      assert.are.equal('no error', r.tab_ok)
      assert.are.equal('no error', r.utf8_ok)
    end)
  end)

  describe('headers', function()
    it('has getHeaders, getHeaderNames, hasHeader and appendHeader by lower-cased name, arrays kept', function()
      local reply = get('/headers')
      local r = json.decode(body_of(reply))
      assert.are.same({ headers = {}, names = {}, has = false }, r.before)
      assert.are.same({ 'set-cookie', 'x-length', 'x-numbers', 'x-test-header', 'x-test-header2' }, r.names)
      assert.are.same({ 'a=1; path=/', 'b=2' }, r.headers['set-cookie'])
      assert.are.same({ 1, 2, 3 }, r.headers['x-numbers'])
      assert.are.equal('testing', r.get_mixed)
      assert.are.same({ 'a=1; path=/', 'b=2' }, r.get_cookie)
      assert.are.equal(12, r.get_number)
      assert.is_true(r.has_upper)
      assert.is_true(r.has_lower)
      assert.is_false(r.has_removed)
      assert.is_nil(r.get_removed)
      assert.are.same({ 'one', 'two', 'three' }, r.appended)
      assert.are.equal('ERR_INVALID_CHAR', r.append_bad)
    end)

    it('sends an array or appended value as one line per element (several Set-Cookie)', function()
      local head = head_of(get('/headers'))
      assert.truthy(head:find('\r\nSet-Cookie: a=1; path=/\r\nSet-Cookie: b=2\r\nSet-Cookie: c=3\r\n', 1, true))
      assert.truthy(head:find('\r\nX-Appended: one\r\nX-Appended: two\r\nX-Appended: three\r\n', 1, true))
      assert.truthy(head:find('\r\nX-Numbers: 1\r\nX-Numbers: 2\r\nX-Numbers: 3\r\n', 1, true))
      assert.falsy(head:find('X-TEST-HEADER2', 1, true))
    end)

    it("stops the automatic Date after removeHeader('date') or sendDate = false", function()
      for _, how in ipairs({ 'remove', 'flag' }) do
        local reply = get('/no-date?how=' .. how)
        assert.falsy(reply:lower():find('\r\ndate:'), how)
        assert.are.equal('dateless', body_of(reply))
      end
      assert.truthy(get('/'):find('\r\nDate: ', 1, true))
    end)

    it('sends a Date the handler set instead of its own', function()
      local head = head_of(get('/own-date'))
      assert.are.equal(1, select(2, head:gsub('\r\nDate: ', '')))
      assert.truthy(head:find('Date: Thu, 01 Jan 1970 00:00:00 GMT', 1, true))
    end)

    it('reports headersSent once the head went out, and refuses header changes after', function()
      local r = json.decode(body_of(get('/sent-timing')):match('\r\n([%[{].*})\r\n'))
      assert.is_false(r.initially)
      assert.is_false(r.after_set)
      assert.is_true(r.after_write)
      assert.are.equal('ERR_HTTP_HEADERS_SENT', r.set_after_write)
      assert.are.equal('ERR_HTTP_HEADERS_SENT', r.remove_after_write)
      assert.are.equal('ERR_HTTP_HEADERS_SENT', r.writehead_after_write)
    end)

    it('sends the head at flushHeaders, chunked, once', function()
      local reply = get('/flush')
      assert.matches('^HTTP/1%.1 200 OK\r\n', reply)
      assert.truthy(reply:find('X-Flushed: yes\r\n', 1, true))
      assert.truthy(reply:find('Transfer-Encoding: chunked\r\n', 1, true))
      assert.truthy(reply:find('\r\n\r\n4\r\ntrue\r\n0\r\n\r\n<EOF>$'))
    end)

    it("frames by the handler's own Content-Length, without chunking", function()
      local reply = get('/own-length')
      assert.truthy(reply:find('Content-Length: 6\r\n', 1, true))
      assert.falsy(reply:find('chunked', 1, true))
      assert.are.equal('abcdef', body_of(reply))
    end)
  end)

  describe('bodies', function()
    it('sends no body for 204 and 304 even when the handler writes one, and keeps the connection usable', function()
      for _, code in ipairs({ 204, 304 }) do
        local reply = raw(('GET /bodiless?code=%d HTTP/1.1\r\nHost: x\r\n\r\n'):format(code) ..
          'GET /writehead-flat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
        assert.matches('^HTTP/1%.1 ' .. code .. ' ', reply)
        assert.falsy(reply:find('should not', 1, true))
        assert.falsy(reply:find('nor this', 1, true))
        assert.truthy(reply:find('\r\n\r\nHTTP/1.1 200 Fine Thanks\r\n', 1, true), code)
        assert.truthy(reply:find('Fine Thanks<EOF>$'))
      end
    end)

    it('answers HEAD with the head only, also when the handler writes pieces', function()
      local reply = raw('HEAD /flush HTTP/1.1\r\nHost: x\r\n\r\nGET /writehead-flat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
      assert.matches('^HTTP/1%.1 200 OK\r\n', reply)
      assert.falsy(reply:find('true', 1, true))
      assert.truthy(reply:find('\r\n\r\nHTTP/1.1 200 Fine Thanks\r\n', 1, true))
    end)

    it("emits ERR_STREAM_WRITE_AFTER_END as 'error' on the next tick and returns false, if listened for", function()
      local id = new_id()
      assert.are.equal('x', body_of(get('/write-after-end?listen=1&id=' .. id)))
      assert.are.same({ 'write returned false', 'finish again: no error', 'error ERR_STREAM_WRITE_AFTER_END' },
        seen_n(id, 3))
    end)

    it('raises ERR_STREAM_WRITE_AFTER_END in the handler when nobody listens for errors', function()
      local id = new_id()
      assert.are.equal('x', body_of(get('/write-after-end?id=' .. id)))
      assert.are.same({ 'ERR_STREAM_WRITE_AFTER_END', 'finish again: no error' }, seen_n(id, 2))
    end)
  end)

  describe("'finish' and 'close'", function()
    it('are emitted after finish() returns', function()
      local id = new_id()
      get('/finish-order?id=' .. id)
      assert.are.same({ 'finish returned', 'finish' }, seen_n(id, 2))
    end)

    it('reach listeners added right after finish(), on the response and the request', function()
      local id = new_id()
      assert.are.equal('ok', body_of(get('/late-listeners?id=' .. id)))
      assert.are.same({ 'handler returned', 'res finish', 'res close', 'req close' }, seen_n(id, 4))
    end)

    it('may raise in a listener: logged, and the server keeps serving', function()
      assert.are.equal('ok', body_of(get('/listener-raises')))
      assert.are.equal('ok', body_of(get('/listener-raises')))
      assert.truthy(srv:stderr():find('finish listener exploded', 1, true))
      assert.is_true(srv:alive())
    end)

    it('are not emitted again for a listener added in a later callback', function()
      local id = new_id()
      get('/late-listener-next-turn?id=' .. id)
      local t = seen_n(id, 1)
      os.execute('sleep 0.1')
      assert.are.same({ 'timer ran' }, seen(id))
      assert.are.equal(1, #t)
    end)

    it("reach the request and the response when the client leaves mid-response", function()
      local id = new_id()
      local reply = raw('GET /hang?write=1&id=' .. id .. ' HTTP/1.1\r\nHost: x\r\n\r\n', { timeout = 0.3 })
      assert.truthy(reply:find('7\r\npartial\r\n', 1, true))
      local t = seen_n(id, 2)
      table.sort(t)
      assert.are.same({ 'req close aborted=false', 'res close finished=true' }, t)
    end)

    it("comes as 'close' after destroy(), and a write then returns false", function()
      local id = new_id()
      local reply = raw('GET /destroyed?id=' .. id .. ' HTTP/1.1\r\nHost: x\r\n\r\n')
      assert.truthy(reply:find('7\r\npartial\r\n', 1, true))
      assert.truthy(reply:find('<EOF>$') or reply:find('<RESET>$'))
      assert.are.same({ 'close, write returns false' }, seen_n(id, 1))
    end)

    it("give 'aborted' and req.aborted when the client leaves before the body arrived", function()
      local id = new_id()
      raw('POST /hang?id=' .. id .. ' HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a part', { timeout = 0.3 })
      local t = seen_n(id, 3)
      table.sort(t)
      assert.are.same({ 'req aborted', 'req close aborted=true', 'res close finished=true' }, t)
    end)
  end)

  describe('the request', function()
    it('has rawHeaders as sent (case and order), complete, aborted and the version parts', function()
      local reply = raw('POST /request-info HTTP/1.1\r\nHost: x\r\nX-Mixed-Case: A\r\nx-mixed-case: b\r\n' ..
        'Content-Length: 4\r\nConnection: close\r\n\r\nbody')
      local r = json.decode(body_of(reply))
      assert.are.same({ 'Host', 'x', 'X-Mixed-Case', 'A', 'x-mixed-case', 'b', 'Content-Length', '4',
        'Connection', 'close' }, r.rawHeaders)
      assert.is_true(r.complete)
      assert.is_false(r.aborted)
      assert.are.equal('body', r.body)
      assert.are.equal(1, r.major)
      assert.are.equal(1, r.minor)
    end)

    it('is not complete while its body is still arriving', function()
      local head = 'POST /request-info HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\n'
      local r = json.decode(body_of(raw(head .. 'body', { cuts = { #head + 1 } })))
      assert.is_false(r.complete_at_start)
      assert.is_true(r.complete)
    end)
  end)

  it('kept the server alive through all of the above', function()
    assert.is_true(srv:alive())
    assert.matches('^HTTP/1%.1 404 ', get('/nothing-here'))
  end)
end)

-- The response side of the http server as Node's own tests pin it
-- (test/parallel/test-http-response-*, test-http-outgoing-*,
-- test-http-write-head*, test-http-mutable-headers, test-http-early-hints;
-- ported, not copied).  The server (spec/helpers/http_node.lua) runs in a
-- child process; what a handler observes comes back as JSON, what it sends
-- is read off the wire with a raw socket.  Events and the request side are
-- in spec/http_node_events_spec.lua, server-level behaviours in
-- spec/http_node_server_spec.lua.
local N = require('helpers.http_node')
local json = require('json')
local raw, get, body_of, head_of = N.raw, N.get, N.body_of, N.head_of
local new_id, seen_n = N.new_id, N.seen_n

describe('http response (Node behaviours)', function()
  setup(N.start)
  teardown(N.stop)

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

    it('fills in statusMessage with the standard phrase, as the implicit head does', function()
      local id = new_id()
      assert.matches('^HTTP/1%.1 404 Not Found\r\n', get('/status-message?head=1&code=404&id=' .. id))
      assert.are.same({ 'false / Not Found', 'Not Found' }, seen_n(id, 2))
      id = new_id()
      assert.matches('^HTTP/1%.1 201 Created\r\n', get('/status-message?code=201&id=' .. id))
      assert.are.same({ 'false / false', 'Created' }, seen_n(id, 2))
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
      assert.truthy(N.srv:stderr():find('ERR_HTTP_INVALID_STATUS_CODE', 1, true))
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

  describe('strictContentLength', function()
    it('refuses a body longer or shorter than the Content-Length set, before sending anything', function()
      local reply = get('/strict-length?n=7')
      assert.are.equal('abc', body_of(reply))
      assert.truthy(reply:find('Content-Length: 3\r\n', 1, true))
      assert.are.same({ write = 'ERR_HTTP_CONTENT_LENGTH_MISMATCH', short = 'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
        sent = false, finished = true }, json.decode(N.srv:line():match('^strict%-length (.*)$')))
    end)

    it('lets a matching body through, and a HEAD or 304 answer without one', function()
      assert.are.equal('xxxxxx', body_of(get('/strict-length?n=6')))
      assert.matches('^HTTP/1%.1 500 ', get('/strict-length?n=2'))
      local head = raw('HEAD /strict-length?n=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
      assert.matches('^HTTP/1%.1 200 OK\r\n', head)
      assert.matches('^HTTP/1%.1 304 ', get('/strict-length?n=0&status=304'))
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

  it('kept the server alive through all of the above', function()
    assert.is_true(N.srv:alive())
    assert.matches('^HTTP/1%.1 404 ', get('/nothing-here'))
  end)
end)

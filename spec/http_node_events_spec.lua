-- 'finish'/'close' timing and the request side of the http server as
-- Node's own tests pin them (test/parallel/test-http-req-res-close,
-- test-http-outgoing-finish, test-http-server-write-after-end,
-- test-http-server-incomingmessage-*; ported, not copied).  Same server as
-- spec/http_node_spec.lua (spec/helpers/http_node.lua).
local N = require('helpers.http_node')
local json = require('json')
local raw, get, body_of = N.raw, N.get, N.body_of
local new_id, seen, seen_n = N.new_id, N.seen, N.seen_n

describe('http events and request (Node behaviours)', function()
  setup(N.start)
  teardown(N.stop)

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
      assert.truthy(N.srv:stderr():find('finish listener exploded', 1, true))
      assert.is_true(N.srv:alive())
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
    assert.is_true(N.srv:alive())
    assert.matches('^HTTP/1%.1 404 ', get('/nothing-here'))
  end)
end)

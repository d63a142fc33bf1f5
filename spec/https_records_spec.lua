-- https responses on the wire: the TLS records a response is written in,
-- counted from `openssl s_client -msg` (every record's inner content
-- type).  A response goes out in the fewest records its size allows
-- (16 KiB of plaintext each): the head, the chunk framing and the body
-- share records rather than each taking its own.
local https = require('https')
local peer = require('helpers.peer')
local certs = require('helpers.tls_certs').make()
local serve = require('helpers.serve')
local listen, close = serve.listen, serve.close

local RECORD = 16384

-- the plaintext of one request's response (Connection: close), and the
-- number of application-data records it came in
local function fetch(port, path)
  local r = await(peer.run({ 'bash', '-c', ("printf 'GET %s HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | " ..
    "timeout 10 openssl s_client -connect 127.0.0.1:%d -ign_eof -quiet -msg 2>&1"):format(path, port) }))
  local records, inner = 0, false
  for line in r.out:gmatch('[^\n]+') do
    if inner then
      -- the byte after "<<< TLS 1.3, InnerContent": 17 is application data
      if line:match('^%s*17%s*$') then records = records + 1 end
      inner = false
    end
    inner = line:find('^<<< TLS 1%.3, InnerContent') ~= nil
  end
  return r.out, records
end

describe('https response records', function()
  local server, port
  local sizes = { small = 13, ['12k'] = 12 * 1024, ['40k'] = 40 * 1024 }

  setup(function()
    server = https.createServer({ cert = certs.server_cert, key = certs.server_key }, function(req, res)
      local name = req.url:sub(2)
      if name == 'chunked' then
        -- head + chunk size + 20000 bytes + CRLF in one write, then the last chunk
        res:writeHead(200, { ['Content-Type'] = 'text/plain' })
        res:write(string.rep('c', 20000))
        setTimeout(function() res:finish() end, 20)
        return
      end
      res:writeHead(200, { ['Content-Type'] = 'text/plain' })
      res:finish(string.rep('b', sizes[name]))
    end)
    port = listen(server)
  end)

  teardown(function() close(server) end)

  it('writes a small response (head and body) in one record', function()
    local out, records = fetch(port, '/small')
    assert.truthy(out:find('HTTP/1.1 200 OK', 1, true), out)
    assert.are.equal(1, records)
  end)

  it('writes head and body together while they fit in one record', function()
    local out, records = fetch(port, '/12k')
    assert.truthy(out:find(string.rep('b', 100), 1, true), out)
    assert.are.equal(1, records)
  end)

  it('fills every record of a large response but the last (the head shares the first)', function()
    local out, records = fetch(port, '/40k')
    assert.truthy(out:find('Content-Length: 40960', 1, true), out)
    -- head (~100 bytes) + 40 KiB: three records, not the head in one of its own
    assert.are.equal(math.ceil((40 * 1024 + 100) / RECORD), records)
  end)

  it('does not give chunk framing records of its own', function()
    local out, records = fetch(port, '/chunked')
    assert.truthy(out:find('Transfer-Encoding: chunked', 1, true), out)
    assert.truthy(out:find('0\r\n\r\n', 1, true), out)
    -- the first write (head, size line, 20000 bytes, CRLF) in two records,
    -- then the last chunk in one
    assert.are.equal(3, records)
  end)
end)

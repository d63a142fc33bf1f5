-- A soak of fetches and http.gets against a luster server in the same
-- process: every answer right, and the RSS settles (what it is after the
-- first quarter it stays near by the end).  Bounded in count and in time.
local http = require('http')

local rss_kib = require('helpers.memory').rss_kib


describe('http client soak', function()
  it('runs 20k fetches (and some http.gets) in flights of 16 with flat memory', function()
    local server = http.createServer(function(req, res)
      res:setHeader('Content-Type', 'text/plain')
      res:finish('n=' .. req.url:sub(2))
    end)
    await(Promise.new(function(resolve) server:listen(0, '127.0.0.1', resolve) end))
    local base = 'http://127.0.0.1:' .. server:address().port .. '/'
    local TOTAL, FLIGHT = 20000, 16
    local deadline = os.time() + 90
    local done, bad, at_quarter = 0, 0, nil
    local next_id = 0
    local function one(i)
      if i % 8 ~= 0 then
        local r = await(fetch(base .. i))
        return r.status == 200 and await(r:text()) == 'n=' .. i
      end
      -- one in eight through http.get, the layer under fetch
      return await(Promise.new(function(resolve)
        http.get(base .. i, function(res)
          local b = ''
          res:on('data', function(d) b = b .. tostring(d) end)
          res:on('end', function() resolve(res.statusCode == 200 and b == 'n=' .. i) end)
        end):on('error', function() resolve(false) end)
      end))
    end
    local function lane()
      while next_id < TOTAL and os.time() < deadline do
        next_id = next_id + 1
        local ok = one(next_id)
        done = done + 1
        if not ok then bad = bad + 1 end
        if done == TOTAL / 4 then
          collectgarbage()
          collectgarbage()
          at_quarter = rss_kib()
        end
      end
    end
    local lanes = {}
    for l = 1, FLIGHT do lanes[l] = async(lane)() end
    for l = 1, FLIGHT do await(lanes[l]) end
    collectgarbage()
    collectgarbage()
    local at_end = rss_kib()
    server:close()
    assert.are.equal(0, bad)
    assert.are.equal(TOTAL, done, 'the soak ran out of time')
    local grown = at_end - at_quarter
    -- (not under sanitizers: their allocators keep freed memory by design)
    if (os.getenv('LUSTER_SANITIZE') or '') ~= '' then return end
    assert.is_true(grown < 8 * 1024, ('RSS grew by %d KiB from 5k to 20k requests (%d -> %d)'):format(grown, at_quarter, at_end))
  end)
end)

-- The WebSocket frame parser under random input (a bounded, seeded
-- fuzz): whatever arrives, in whatever pieces, the parser either yields
-- messages or reports one protocol error with a close code — it never
-- raises, never loops, and never delivers anything after an error.
-- (The parser is pure Lua, lua/luster/ws_frame.lua, so a libFuzzer C
-- target does not apply; this spec plays that role.)
local frame = require('luster.ws_frame')

local CODES = { [1002] = true, [1007] = true, [1009] = true }

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

-- A frame that is mostly well-formed, with one random thing wrong now and then.
local function random_frame(is_server)
  local op = ({ 0, 1, 2, 8, 9, 10, 3, 11 })[math.random(1, 8)]
  local n = math.random(0, 3) == 0 and math.random(126, 70000) or math.random(0, 130)
  local payload = math.random(0, 1) == 0 and random_bytes(math.min(n, 300)) or string.rep('a', n)
  local f = frame.frame(op, payload, math.random(0, 3) ~= 0, math.random(0, 9) == 0 and not is_server or is_server)
  if math.random(0, 9) == 0 then   -- flip a bit of the header
    local i = math.random(1, math.min(#f, 14))
    f = f:sub(1, i - 1) .. string.char(bit.bxor(f:byte(i), bit.lshift(1, math.random(0, 7)))) .. f:sub(i + 1)
  end
  return f
end

local function run(input, is_server)
  local p = frame.new_parser({ isServer = is_server, maxPayload = 50000 })
  local errors_seen, after_error = 0, 0
  local function event() if errors_seen > 0 then after_error = after_error + 1 end end
  p.on_message, p.on_ping, p.on_pong, p.on_close = event, event, event, event
  p.on_error = function(e)
    errors_seen = errors_seen + 1
    assert(CODES[e.statusCode], 'unexpected close code ' .. tostring(e.statusCode))
  end
  -- feed in random pieces
  local i = 1
  while i <= #input do
    local n = math.random(1, 4096)
    p:feed(input:sub(i, i + n - 1))
    i = i + n
  end
  assert(errors_seen <= 1, 'more than one error')
  assert(after_error == 0, 'events after an error')
end

describe('the WebSocket frame parser under random input', function()
  it('never raises on random frames, split anywhere, on either side', function()
    math.randomseed(6455)
    local deadline = os.clock() + 10
    for round = 1, 1500 do
      local parts = {}
      for k = 1, math.random(1, 8) do parts[k] = random_frame(round % 2 == 0) end
      local ok, err = pcall(run, table.concat(parts), round % 2 == 0)
      assert(ok, ('round %d: %s'):format(round, tostring(err)))
      if os.clock() > deadline then break end
    end
  end)

  it('never raises on pure noise', function()
    math.randomseed(17)
    for round = 1, 300 do
      local ok, err = pcall(run, random_bytes(math.random(1, 2000)), round % 2 == 0)
      assert(ok, ('round %d: %s'):format(round, tostring(err)))
    end
  end)
end)

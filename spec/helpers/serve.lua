--- Promise-shaped server steps for specs that run inside the runtime:
--- listen on an OS-chosen port of 127.0.0.1, close, sleep, and the error
--- a promise rejects with.
local assert = require('luassert') -- a helper module sees Lua's assert

local M = {}

--- Listen on 127.0.0.1, port 0; the port, or the 'error' raised.
function M.listen(server)
  return await(Promise.new(function(resolve, reject)
    server:once('error', reject)
    server:listen(0, '127.0.0.1', function() resolve(server:address().port) end)
  end))
end

--- Close and wait for 'close'.
function M.close(server) await(Promise.new(function(r) server:close(r) end)) end

function M.sleep(ms) await(Promise.new(function(r) setTimeout(r, ms) end)) end

--- The error `p` rejects with; the spec fails if it fulfils instead.
function M.rejects(p)
  local ok, e = pcall(await, p)
  assert.is_false(ok, 'expected a rejection')
  return e
end

return M

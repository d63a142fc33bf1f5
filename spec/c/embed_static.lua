-- Run by spec/c/embed_static.sh inside a statically linked embedder: serve
-- one HTTP request whose answer a worker thread computes, then stop.
local http = require('http')
local wt = require('worker_threads')

if not wt.isMainThread then
  local n = wt.workerData.n
  wt.parentPort.postMessage(('worker: %d squared is %d, Atomics %d'):format(
    n, n * n, Atomics.add(Int32Array(wt.workerData.sab), 0, 5)))
  return
end

-- luster_free closes the state: a finalizer run then still reaches the
-- runtime (setImmediate finds its state through the allocator)
_G.at_close = newproxy(true)
getmetatable(_G.at_close).__gc = function()
  setImmediate(function() end)
  io.stdout:write(('finalizer at close: loop ms %d\n'):format(require('timers')._loop_now()))
end

local sab = SharedArrayBuffer(4)
Int32Array(sab)[0] = 37
local server
server = http.createServer(function(req, res)
  local answer = await(Promise.new(function(resolve, reject)
    local w = wt.Worker(__filename, { workerData = { n = 12, sab = sab } })
    w:on('message', resolve)
    w:on('error', reject)
  end))
  res:writeHead(200, { ['Content-Type'] = 'text/plain' })
  res:finish(answer .. ', timer ' .. await(Promise.new(function(resolve)
    setTimeout(resolve, 10, 'fired') end)) .. ', json ' .. require('json').encode({ 1 }) .. '\n')
  server:close()
end)
server:listen(0, '127.0.0.1', function()
  -- the driver reads the port from this line
  console.log(('listening %d'):format(server:address().port))
end)

-- The seeds' "compress files" in a WorkerPool: every file of a directory is
-- gzipped by a pool of worker threads (each worker reads, compresses and
-- writes its file), while the main thread only hands out names.
--   luster examples/compress_files.lua DIR [workers]
-- writes DIR/<name>.gz next to each file and prints a summary line.
local wt = require('worker_threads')
local fs = require('fs')

if wt.isMainThread then
  local dir = process.argv[3] or error('usage: luster examples/compress_files.lua DIR [workers]')
  local size = tonumber(process.argv[4]) or 4
  local names = {}
  for _, name in ipairs(fs.readdirSync(dir)) do
    local path = dir .. '/' .. name
    if not name:match('%.gz$') and fs.statSync(path).isFile() then names[#names + 1] = path end
  end
  local pool = wt.WorkerPool(__filename, { size = size })
  local started = process.hrtime()
  local jobs = {}
  for i, path in ipairs(names) do jobs[i] = pool:run({ path = path, level = 6 }) end
  local results = await(Promise.all(jobs))
  local ms = (function(d) return d[1] * 1e3 + d[2] / 1e6 end)(process.hrtime(started))
  local before, after = 0, 0
  for _, r in ipairs(results) do before, after = before + r.bytes, after + r.gzipped end
  console.log(('compressed %d files, %d -> %d bytes, on %d threads in %d ms'):format(
    #results, before, after, pool.size, math.floor(ms)))
  pool:destroy()
else
  local zlib = require('zlib')
  wt.parentPort:on('message', function(task)
    local data = fs.readFileSync(task.path)
    local packed = zlib.gzipSync(data, { level = task.level })
    fs.writeFileSync(task.path .. '.gz', packed)
    wt.parentPort:postMessage({ path = task.path, bytes = #data, gzipped = #packed })
  end)
end

-- The seeds' "process an image without blocking the server": each request
-- runs the heavy work in a worker thread and awaits its answer.
--   luster examples/process_image.lua      (PORT=0 picks a free port)
--   curl -s -XPOST localhost:3000/process-image -H 'Content-Type: application/json' \
--        -d '{"image": {"width": 2, "height": 2, "pixels": [0, 64, 128, 255]}}'
local app = require('router')()
local Worker = require('worker_threads').Worker

local function runWorker(data)
  return Promise.new(function(resolve, reject)
    local worker = Worker('./image_worker.lua', { workerData = data })
    worker:on('message', resolve)
    worker:on('error', reject)
  end)
end

-- Process image without blocking server
app:post('/process-image', function(req, res)
  local result = await(runWorker({ image = req.body.image }))
  res:json(result)
end)

app:listen(tonumber(process.env.PORT) or 3000, '127.0.0.1', function()
  console.log(('Image service listening on port %d'):format(app.server:address().port))
end)

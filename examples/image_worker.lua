-- The worker of examples/process_image.lua: "heavy image processing" on a
-- grayscale image {width=, height=, pixels={0..255, ...}} — a 3x3 box blur,
-- a histogram and the mean brightness.
local wt = require('worker_threads')
local workerData, parentPort = wt.workerData, wt.parentPort

local function processImage(image)
  local w, h, px = image.width, image.height, image.pixels
  assert(type(px) == 'table' and #px == w * h, 'pixels must hold width * height values')
  local blurred, histogram, sum = {}, {}, 0
  for i = 0, 15 do histogram[i + 1] = 0 end
  for y = 0, h - 1 do
    for x = 0, w - 1 do
      local acc, n = 0, 0
      for dy = -1, 1 do
        for dx = -1, 1 do
          local xx, yy = x + dx, y + dy
          if xx >= 0 and xx < w and yy >= 0 and yy < h then
            acc, n = acc + px[yy * w + xx + 1], n + 1
          end
        end
      end
      local v = px[y * w + x + 1]
      blurred[y * w + x + 1] = math.floor(acc / n + 0.5)
      histogram[math.floor(v / 16) + 1] = histogram[math.floor(v / 16) + 1] + 1
      sum = sum + v
    end
  end
  return { width = w, height = h, mean = sum / (w * h), histogram = histogram, blurred = blurred }
end

-- Heavy image processing
local result = processImage(workerData.image)
parentPort.postMessage(result)

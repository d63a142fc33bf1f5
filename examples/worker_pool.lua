-- A pool of worker threads hashing data off the main thread ("hash
-- passwords or compress files without blocking incoming requests").
-- One file: the main thread builds the pool, each pooled worker answers
-- one task (a table of strings) with one message (their hashes).
local wt = require('worker_threads')
local bit = require('bit')

-- FNV-1a, 32 bits, stretched over many rounds (a stand-in for bcrypt).
local function hash(s, rounds)
  local h = 0x811c9dc5
  for _ = 1, rounds do
    for i = 1, #s do
      h = bit.bxor(h, s:byte(i))
      h = bit.tobit(h * 0x01000193)
    end
  end
  return bit.tohex(h)
end

if wt.isMainThread then
  local pool = wt.WorkerPool(__filename, { size = 4 })
  local passwords = {}
  for i = 1, 16 do passwords[i] = 'password-' .. i end

  local started = process.hrtime()
  local jobs = {}
  for i = 1, #passwords, 4 do
    jobs[#jobs + 1] = pool:run({ words = { unpack(passwords, i, i + 3) }, rounds = 20000 })
  end
  local results = await(Promise.all(jobs))
  local elapsed = process.hrtime(started)
  for _, r in ipairs(results) do
    for j, h in ipairs(r.hashes) do console.log(('%s %s'):format(r.words[j], h)) end
  end
  console.log(('hashed %d passwords on %d threads in %d ms'):format(#passwords, pool.size,
    elapsed[1] * 1000 + math.floor(elapsed[2] / 1e6)))
  pool:destroy()
else
  wt.parentPort:on('message', function(task)
    local hashes = {}
    for i, w in ipairs(task.words) do hashes[i] = hash(w, task.rounds) end
    wt.parentPort:postMessage({ words = task.words, hashes = hashes })
  end)
end

-- zlib: the threadpool forms of gzip/deflate/deflateRaw compress large
-- inputs as blocks on several threads at once (runtime/zlib_parallel.c).
-- The output must be one standard stream that every real decoder reads,
-- depend only on the input and options, and honour every option.
local zlib = require('zlib')
local crypto = require('crypto')
local cjson = require('cjson')
local run = require('helpers.run')

-- mirror runtime/zlib_parallel.c: inputs from THRESHOLD bytes go block-parallel
local THRESHOLD, BLOCK = 1024 * 1024, 256 * 1024

local function have(cmd) return os.execute('command -v ' .. cmd .. ' >/dev/null 2>&1') == 0 end

local function tmpfile(data)
  local p = os.tmpname()
  local f = assert(io.open(p, 'wb'))
  f:write(data or '')
  f:close()
  return p
end

local function sha(s) return crypto.createHash('sha256'):update(s):digest('hex') end

-- text of random words (compresses about 3:1, like the bench's), with a run
-- of noise straddling the first block boundary (stored blocks there)
local function make_input(n)
  local seed = 12345
  local function rand(k)
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % k
  end
  local words = {}
  for i = 1, 3000 do
    local w = {}
    for j = 1, 2 + rand(8) do w[j] = string.char(97 + rand(26)) end
    words[i] = table.concat(w)
  end
  local parts, len = {}, 0
  while len < n do
    local line = {}
    for j = 1, 12 do line[j] = words[1 + rand(#words)] end
    local s = table.concat(line, ' ') .. '\n'
    parts[#parts + 1] = s
    len = len + #s
    if #parts == 2000 then
      local noise = {}
      for j = 1, 40000 do noise[j] = string.char(rand(256)) end
      parts[#parts + 1] = table.concat(noise)
      len = len + 40000
    end
  end
  return table.concat(parts):sub(1, n)
end

local INPUT = make_input(3 * THRESHOLD + 12345)
local FORMATS = {
  { 'gzip', 'gunzip' }, { 'deflate', 'inflate' }, { 'deflateRaw', 'inflateRaw' },
}

local function async(name, data, opts)
  return await(zlib.promises[name](data, opts))
end

local function async_cb(name, data, opts)
  return await(Promise.new(function(resolve, reject)
    zlib[name](data, opts, function(err, out) if err then reject(err) else resolve(out) end end)
  end))
end

local function rejects(code, name, data, opts)
  local ok, e = pcall(async, name, data, opts)
  assert.is_false(ok, 'expected ' .. code)
  assert.are.equal(code, type(e) == 'table' and e.code or e)
  return e
end

describe('block-parallel threadpool compression', function()
  it('makes one stream luster decodes, close in size to the single stream', function()
    for _, f in ipairs(FORMATS) do
      local packed = async(f[1], INPUT, { level = 6 })
      assert.are.equal(INPUT, zlib[f[2] .. 'Sync'](packed), f[1])
      local single = zlib[f[1] .. 'Sync'](INPUT, { level = 6 })
      assert.is_true(math.abs(#packed - #single) <= #single * 0.01, ('%s: %d vs %d'):format(f[1], #packed, #single))
      -- the parallel output is not the single stream's, yet reads the same
      assert.are_not.equal(single, packed, f[1])
      assert.are.equal(packed, async_cb(f[1], INPUT, { level = 6 }), f[1] .. ' callback form')
    end
  end)

  it('is decoded by gzip -d and by Node\'s zlib', function()
    if not have('node') then pending('node is not installed') return end
    local input = tmpfile(INPUT)
    local files = {}
    for _, f in ipairs(FORMATS) do files[f[1]] = tmpfile(async(f[1], INPUT)) end
    local plain, err, code = run.sh('gzip -dc < ' .. files.gzip)
    assert.are.equal(0, code, err)
    assert.is_true(plain == INPUT, 'gzip -d decoded something else')
    local js = tmpfile(([==[
      const z = require('zlib'), fs = require('fs');
      const text = fs.readFileSync(%q), files = %s;
      const back = { gzip: 'gunzipSync', deflate: 'inflateSync', deflateRaw: 'inflateRawSync' };
      const out = {};
      for (const k in files) out[k] = z[back[k]](fs.readFileSync(files[k])).equals(text);
      console.log(JSON.stringify(out));
    ]==]):format(input, cjson.encode(files)))
    local out, err2, code2 = run.sh('node ' .. js)
    for _, p in pairs(files) do os.remove(p) end
    os.remove(js)
    os.remove(input)
    assert.are.equal(0, code2, err2)
    local r = cjson.decode(out)
    for _, fmt in ipairs(FORMATS) do assert.is_true(r[fmt[1]], 'node could not decode ' .. fmt[1]) end
  end)

  it('gives the same bytes on every run and for any threadpool size', function()
    local mine = {}
    for _, f in ipairs(FORMATS) do
      mine[f[1]] = sha(async(f[1], INPUT, { level = 5 }))
      assert.are.equal(mine[f[1]], sha(async(f[1], INPUT, { level = 5 })), f[1] .. ' second run')
    end
    local input = tmpfile(INPUT)
    local child = [[
      local zlib, fs, crypto = require('zlib'), require('fs'), require('crypto')
      local data = fs.readFileSync(arg[1])
      local jobs = {}
      for _, name in ipairs { 'gzip', 'deflate', 'deflateRaw' } do
        jobs[#jobs + 1] = zlib.promises[name](data, { level = 5 })
      end
      for _, out in ipairs(await(Promise.all(jobs))) do
        print(crypto.createHash('sha256'):update(out):digest('hex'))
      end
    ]]
    local script = os.tmpname()
    os.remove(script)
    script = script .. '.lua'
    local f = assert(io.open(script, 'w'))
    f:write(child)
    f:close()
    for _, size in ipairs { 1, 4 } do
      local out, err, code = run.sh(('UV_THREADPOOL_SIZE=%d %s %s %s'):format(size, run.quote(run.bin), script, input))
      assert.are.equal(0, code, err)
      assert.are.equal(('%s\n%s\n%s\n'):format(mine.gzip, mine.deflate, mine.deflateRaw), out,
        'UV_THREADPOOL_SIZE=' .. size)
    end
    os.remove(script)
    os.remove(input)
  end)

  it('lets other threadpool work run between its blocks', function()
    -- one thread: a job that held it for its whole length would answer
    -- before a file read queued just after it
    local input = tmpfile(INPUT)
    local script = os.tmpname()
    os.remove(script)
    script = script .. '.lua'
    local f = assert(io.open(script, 'w'))
    f:write([[
      local zlib, fs = require('zlib'), require('fs')
      local data = fs.readFileSync(arg[1])
      local order = {}
      zlib.gzip(data, { level = 1 }, function(err) order[#order + 1] = err and err.code or 'gzip' end)
      fs.readFile(arg[1], function(err) order[#order + 1] = err and err.code or 'read' end)
      process.on('exit', function() print(table.concat(order, ' ')) end)
    ]])
    f:close()
    local out, err, code = run.sh(('UV_THREADPOOL_SIZE=1 %s %s %s'):format(run.quote(run.bin), script, input))
    os.remove(script)
    os.remove(input)
    assert.are.equal(0, code, err)
    assert.are.equal('read gzip\n', out)
  end)

  it('handles inputs at the threshold and at block boundaries', function()
    local sizes = {
      THRESHOLD - 1, THRESHOLD, THRESHOLD + 1,
      THRESHOLD + BLOCK - 1, THRESHOLD + BLOCK, THRESHOLD + BLOCK + 1,
      5 * BLOCK - 1, 5 * BLOCK + 1,
    }
    for _, n in ipairs(sizes) do
      local data = INPUT:sub(1, n)
      for _, f in ipairs(FORMATS) do
        local packed = async(f[1], data, { level = 1 })
        assert.are.equal(sha(data), sha(zlib[f[2] .. 'Sync'](packed)), f[1] .. ' of ' .. n .. ' bytes')
      end
    end
    -- below the threshold the async form is the single stream
    local small = INPUT:sub(1, THRESHOLD - 1)
    assert.are.equal(zlib.gzipSync(small), async('gzip', small))
  end)

  it('compresses empty and tiny inputs', function()
    for _, f in ipairs(FORMATS) do
      assert.are.equal('', zlib[f[2] .. 'Sync'](async(f[1], '')))
      assert.are.equal('x', zlib[f[2] .. 'Sync'](async(f[1], 'x')))
    end
  end)

  it('honours level, memLevel, strategy and windowBits', function()
    local data = INPUT:sub(1, THRESHOLD + BLOCK + 7)
    local cases = {
      { level = 0 }, { level = 1, memLevel = 1 }, { level = 9, memLevel = 9 },
      { strategy = zlib.Z_FILTERED }, { strategy = zlib.Z_HUFFMAN_ONLY }, { strategy = zlib.Z_RLE },
      { strategy = zlib.Z_FIXED }, { windowBits = 9 }, { windowBits = 12, level = 3 },
      { windowBits = 8 },  -- zlib's own case (raw and gzip refuse it): the single stream's answer
    }
    for _, opts in ipairs(cases) do
      for _, f in ipairs(FORMATS) do
        local label = f[1] .. ' ' .. cjson.encode(opts)
        local ok, packed = pcall(async, f[1], data, opts)
        local sok, single = pcall(zlib[f[1] .. 'Sync'], data, opts)
        assert.are.equal(sok, ok, label)
        if ok then
          local dopts = opts.windowBits and { windowBits = math.max(opts.windowBits, 9) } or nil
          assert.are.equal(sha(data), sha(zlib[f[2] .. 'Sync'](packed, dopts)), label)
          assert.is_true(#packed <= #single * 1.01 + 64, label)
        else
          assert.are.equal(single.code, packed.code, label)
        end
      end
    end
    -- level 0 stores: about the input's size; level 9 beats level 1
    assert.is_true(#async('gzip', data, { level = 0 }) >= #data)
    assert.is_true(#async('gzip', data, { level = 9 }) < #async('gzip', data, { level = 1 }))
  end)

  it('takes the single stream for a preset dictionary', function()
    local data = INPUT:sub(1, THRESHOLD + 100)
    local dict = INPUT:sub(1, 1000)
    local packed = async('deflate', data, { dictionary = dict })
    assert.are.equal(zlib.deflateSync(data, { dictionary = dict }), packed)
    assert.are.equal(sha(data), sha(zlib.inflateSync(packed, { dictionary = dict })))
  end)

  it('stops at maxOutputLength with ERR_BUFFER_TOO_LARGE', function()
    for _, f in ipairs(FORMATS) do
      local size = #async(f[1], INPUT)
      assert.are.equal(size, #async(f[1], INPUT, { maxOutputLength = size }))
      local e = rejects('ERR_BUFFER_TOO_LARGE', f[1], INPUT, { maxOutputLength = size - 1 })
      assert.are.equal('Cannot create a Buffer larger than ' .. (size - 1) .. ' bytes', e.message)
      rejects('ERR_BUFFER_TOO_LARGE', f[1], INPUT, { maxOutputLength = 100 })
      rejects('ERR_BUFFER_TOO_LARGE', f[1], INPUT, { maxOutputLength = math.floor(size / 2) })
    end
    -- the loop goes on working after a failed job
    assert.are.equal(sha(INPUT), sha(zlib.gunzipSync(async('gzip', INPUT))))
  end)

  it('runs large jobs from several worker threads at once', function()
    local Worker = require('worker_threads').Worker
    local input = tmpfile(INPUT)
    local want = {}
    for _, f in ipairs(FORMATS) do want[#want + 1] = sha(async(f[1], INPUT)) end
    local done = {}
    for w = 1, 3 do
      done[w] = Promise.new(function(resolve)
        local worker = Worker(([[
          local zlib, fs, crypto = require('zlib'), require('fs'), require('crypto')
          local parentPort = require('worker_threads').parentPort
          local data = fs.readFileSync(%q)
          local jobs = {}
          for _, name in ipairs { 'gzip', 'deflate', 'deflateRaw' } do jobs[#jobs + 1] = zlib.promises[name](data) end
          local outs, sums = await(Promise.all(jobs)), {}
          for i, out in ipairs(outs) do sums[i] = crypto.createHash('sha256'):update(out):digest('hex') end
          local ok = zlib.gunzipSync(outs[1]) == data and zlib.inflateSync(outs[2]) == data
            and zlib.inflateRawSync(outs[3]) == data
          parentPort.postMessage({ ok = ok, sums = sums })
        ]]):format(input), { eval = true })
        worker:on('message', resolve)
      end)
    end
    -- and the main thread at the same time
    local mine = async('gzip', INPUT)
    for _, r in ipairs(await(Promise.all(done))) do
      assert.is_true(r.ok)
      assert.are.same(want, r.sums)
    end
    assert.are.equal(want[1], sha(mine))
    os.remove(input)
  end)

  it('drops the job cleanly when a worker ends mid-compression', function()
    local Worker = require('worker_threads').Worker
    local worker = Worker([[
      local zlib = require('zlib')
      local parentPort = require('worker_threads').parentPort
      local data = ('abcdefgh'):rep(1024 * 1024)
      zlib.gzip(data, function() end)
      parentPort.postMessage('started')
    ]], { eval = true })
    local exited = Promise.new(function(resolve) worker:on('exit', resolve) end)
    await(Promise.new(function(resolve) worker:on('message', resolve) end))
    worker:terminate()
    await(exited)
    assert.are.equal(sha(INPUT), sha(zlib.gunzipSync(async('gzip', INPUT))))
  end)
end)
